#include "runtime/service/writer.hpp"

#include <algorithm>
#include <exception>
#include <future>
#include <pthread.h>

namespace flow::service {

Writer::Writer(store::Store& store, std::size_t max_queue, std::size_t max_batch, std::size_t max_batch_weight)
    : store_(store), max_queue_(max_queue), max_batch_(max_batch), max_batch_weight_(max_batch_weight), thread_([this] { loop(); }) {}

Writer::~Writer() { stop(); }

bool Writer::submit(Work work, Done done, Admission admission, std::size_t weight) {
    {
        std::lock_guard lock(mutex_);
        if (stopping_ || (admission == Admission::Bounded && queue_.size() >= max_queue_)) return false;
        queue_.push_back({std::move(work), std::move(done), weight});
    }
    wake_.notify_one();
    return true;
}

store::Status Writer::run(Work work, Admission admission) {
    auto promise = std::make_shared<std::promise<store::Status>>();
    auto result = promise->get_future();
    if (!submit(std::move(work), [promise](const store::Status& status) { promise->set_value(status); }, admission))
        return store::StoreError{store::StoreError::Kind::Unavailable, "too many requests are waiting for the database"};
    return result.get();
}

std::size_t Writer::queued() const {
    std::lock_guard lock(mutex_);
    return queue_.size();
}

void Writer::stop() {
    {
        std::lock_guard lock(mutex_);
        if (stopping_ && !thread_.joinable()) return;
        stopping_ = true;
    }
    wake_.notify_one();
    if (thread_.joinable()) thread_.join();
}

void Writer::loop() {
    pthread_setname_np(pthread_self(), "flowd-writer");
    for (;;) {
        std::vector<Job> batch;
        {
            std::unique_lock lock(mutex_);
            wake_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
            if (queue_.empty()) return;  // stopping, and everything queued is done
            // Up to max_batch jobs and max_batch_weight events: a few large CloudEvents batches
            // sent at once must not make one transaction of millions of events, which would
            // hold every other sender, the timers and the relay's records for minutes.
            std::size_t room = max_batch_weight_;  // for the jobs after the first
            while (!queue_.empty() && batch.size() < max_batch_ && (batch.empty() || queue_.front().weight <= room)) {
                room -= std::min(room, queue_.front().weight);
                batch.push_back(std::move(queue_.front()));
                queue_.pop_front();
            }
        }
        std::vector<store::Status> outcomes(batch.size());
        Pass pass = run_batch(batch, outcomes, Savepoints::None);
        if (pass.redo) pass = run_batch(batch, outcomes, Savepoints::EachJob);
        for (std::size_t i = 0; i < batch.size(); ++i) batch[i].done(pass.failure ? pass.failure : outcomes[i]);
        if (!pass.failure) {
            if (observe_batch) observe_batch(batch.size());
            if (on_commit_) on_commit_();
        }
    }
}

Writer::Pass Writer::run_batch(std::vector<Job>& batch, std::vector<store::Status>& outcomes, Savepoints savepoints) {
    std::fill(outcomes.begin(), outcomes.end(), store::Status());
    auto tx = store_.begin();
    if (!tx.ok()) return {*tx.error, false};
    store::Transaction& t = **tx.value;
    const bool each_job = savepoints == Savepoints::EachJob;
    for (std::size_t i = 0; i < batch.size(); ++i) {
        if (each_job) {
            if (auto e = t.savepoint()) return {e, false};
        }
        const std::int64_t written_before = t.rows_written();
        store::Status status;
        try {
            status = batch[i].work(t);
        } catch (const std::exception& e) {
            // A row no flowd wrote that throws as it is read, or memory running out: this job
            // fails (503) as if the database had refused it, and the writer goes on with the
            // others, where the exception would have ended flowd.
            status = store::StoreError{store::StoreError::Kind::Unavailable, std::string("the database failed: ") + e.what()};
        }
        if (!t.intact()) {
            // The database rolled the transaction back (after an I/O error): nothing of the
            // batch can commit, and nothing more may be written outside a transaction.
            if (!status) status = store::StoreError{store::StoreError::Kind::Unavailable, "the database rolled the transaction back"};
            return {status, false};
        }
        if (status) {
            // This job alone is undone: a write the database refused (a full disk) does not
            // keep the others from committing (a duplicate needs no space).
            outcomes[i] = status;
            if (each_job) {
                if (auto e = t.rollback_to_savepoint()) return {e, false};
            } else if (t.rows_written() != written_before) {
                return {std::nullopt, true};  // only a savepoint can undo its writes: the transaction is rolled back
            }
        } else if (each_job) {
            if (auto e = t.release_savepoint()) return {e, false};
        }
    }
    return {t.commit(), false};
}

}  // namespace flow::service
