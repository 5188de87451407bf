#include "runtime/service/writer.hpp"

#include <future>
#include <pthread.h>

namespace flow::service {

Writer::Writer(store::Store& store, std::size_t max_queue, std::size_t max_batch)
    : store_(store), max_queue_(max_queue), max_batch_(max_batch), thread_([this] { loop(); }) {}

Writer::~Writer() { stop(); }

bool Writer::submit(Work work, Done done, Admission admission) {
    {
        std::lock_guard lock(mutex_);
        if (stopping_ || (admission == Admission::Bounded && queue_.size() >= max_queue_)) return false;
        queue_.push_back({std::move(work), std::move(done)});
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
            while (!queue_.empty() && batch.size() < max_batch_) {
                batch.push_back(std::move(queue_.front()));
                queue_.pop_front();
            }
        }
        std::vector<store::Status> outcomes(batch.size());
        store::Status failure;
        auto tx = store_.begin();
        if (!tx.ok()) {
            failure = *tx.error;
        } else {
            store::Transaction& t = **tx.value;
            for (std::size_t i = 0; i < batch.size() && !failure; ++i) {
                if (auto e = t.savepoint()) {
                    failure = e;
                    break;
                }
                store::Status status = batch[i].work(t);
                if (status && status->kind == store::StoreError::Kind::Unavailable && !t.intact()) {
                    failure = status;  // the transaction is lost: nothing of the batch can commit
                } else if (status) {
                    // This job alone is undone: a write the database refused (a full disk) does
                    // not keep the others from committing (a duplicate needs no space).
                    outcomes[i] = status;
                    if (auto e = t.rollback_to_savepoint()) failure = e;
                } else if (auto e = t.release_savepoint()) {
                    failure = e;
                }
            }
            if (!failure) failure = t.commit();
        }
        for (std::size_t i = 0; i < batch.size(); ++i) batch[i].done(failure ? failure : outcomes[i]);
        if (!failure) {
            if (observe_batch) observe_batch(batch.size());
            if (on_commit_) on_commit_();
        }
    }
}

}  // namespace flow::service
