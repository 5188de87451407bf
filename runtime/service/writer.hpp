// Group commit: one thread takes the jobs that arrive while it is busy and runs them in one
// store transaction, then reports to each job. One fsync serves a whole batch; nothing is
// reported done before its batch commits.
//
// A job that fails is undone alone. The batch first runs without savepoints (they cost the
// writer about 7 % of its time): a job that fails having written nothing needs nothing
// undone. Only when a job fails after writing is the transaction rolled back and the batch run
// again with a savepoint around each job, so jobs must be safe to run twice (each starts from
// what the database holds, and resets what it reports).
#pragma once

#include "runtime/store/store.hpp"

#include <condition_variable>
#include <deque>
#include <functional>
#include <limits>
#include <mutex>
#include <thread>

namespace flow::service {

struct WriterStats {
    std::uint64_t batches = 0;
    std::uint64_t jobs = 0;
};

class Writer {
public:
    // Runs inside the batch's transaction, possibly twice (see above). An error undoes only
    // this job, unless the transaction itself was lost: then the whole batch fails.
    using Work = std::function<store::Status(store::Transaction&)>;
    // Called after the batch committed (nullopt) or failed (the error).
    using Done = std::function<void(const store::Status&)>;

    // Whether a full queue refuses the job: requests from outside are shed; the relay's and the
    // timer loop's jobs are not (each has at most one job queued, so they stay bounded).
    enum class Admission { Bounded, Always };

    // A transaction takes at most `max_batch` jobs, and jobs weighing `max_batch_weight`
    // together (a job heavier alone is run alone): a request's weight is its events.
    Writer(store::Store& store, std::size_t max_queue, std::size_t max_batch,
           std::size_t max_batch_weight = std::numeric_limits<std::size_t>::max());
    ~Writer();

    // Queues a job; false when it is stopping, or when the queue is full and the job is Bounded
    // (the caller sheds load).
    bool submit(Work work, Done done, Admission admission = Admission::Bounded, std::size_t weight = 1);
    // Queues a job and waits for its batch; Unavailable when it was not queued.
    store::Status run(Work work, Admission admission = Admission::Bounded);
    // Called after each successful commit (to wake the relay and the timer loop), on the
    // writer's thread, after the batch's jobs are told. Set it before the first job is submitted:
    // the writer reads it without a lock.
    void on_commit(std::function<void()> callback) { on_commit_ = std::move(callback); }
    // Stops taking jobs, finishes those queued, and joins the thread.
    void stop();
    std::size_t queued() const;
    // Sizes of the batches committed so far, for /metrics.
    std::function<void(std::size_t batch_size)> observe_batch;

private:
    struct Job {
        Work work;
        Done done;
        std::size_t weight;
    };
    enum class Savepoints { None, EachJob };
    struct Pass {
        store::Status failure;  // the whole batch failed (nothing committed)
        bool redo = false;      // a job failed after writing: run the batch again, EachJob
    };
    void loop();
    // One transaction over the batch; each job's own error goes to `outcomes`.
    Pass run_batch(std::vector<Job>& batch, std::vector<store::Status>& outcomes, Savepoints savepoints);

    store::Store& store_;
    const std::size_t max_queue_;
    const std::size_t max_batch_;
    const std::size_t max_batch_weight_;
    mutable std::mutex mutex_;  // guards queue_ and stopping_
    std::condition_variable wake_;
    std::deque<Job> queue_;
    bool stopping_ = false;
    std::function<void()> on_commit_;
    std::thread thread_;
};

}  // namespace flow::service
