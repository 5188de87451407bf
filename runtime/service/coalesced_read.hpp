// One read shared by the callers that want it at the same time (the counts behind /metrics):
// however many ask at once, at most one read runs, no caller's thread waits for it, and each
// caller gets the answer of a read that started after it asked, never an older one.
//
// A caller that asks while a read runs cannot take that read's answer (the read may have begun
// before a write the caller saw acknowledged): it is answered by the next read, which the same
// runner starts as soon as the running one ends, for every caller that asked meanwhile.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

namespace flow::service {

template <class Answer>
class CoalescedRead : public std::enable_shared_from_this<CoalescedRead<Answer>> {
public:
    using Read = std::function<Answer()>;
    using Deliver = std::function<void(const Answer&)>;
    using Run = std::function<void(std::function<void()>)>;

    // Hands `deliver` the answer of a read that starts after this call. When no read runs, `run`
    // is given the work that reads, on whatever thread it chooses (flowd's workers), until no
    // caller waits; otherwise this returns at once and the running work answers it.
    //
    // `read` must not throw: the caller turns its failures into answers. An exception out of a
    // `deliver` is that caller's alone: it is dropped, and the others are still answered. When
    // `run` throws (no memory to queue the work), the reads run here, on the calling thread:
    // every caller is answered, at the cost of this thread's wait.
    void get(Read read, Deliver deliver, const Run& run) {
        {
            std::lock_guard lock(mutex_);
            waiting_.push_back(std::move(deliver));
            if (running_) return;
            running_ = true;
        }
        auto shared_read = std::make_shared<Read>(std::move(read));
        try {
            run([self = this->shared_from_this(), shared_read] { self->read_while_asked(*shared_read); });
            return;
        } catch (...) {
        }
        read_while_asked(*shared_read);
    }

    // How many reads have run (for tests).
    std::uint64_t reads() const {
        std::lock_guard lock(mutex_);
        return reads_;
    }

private:
    // Runs as the one runner (`running_` set) until no caller waits.
    void read_while_asked(const Read& read) {
        for (;;) {
            std::vector<Deliver> asked;
            {
                std::lock_guard lock(mutex_);
                if (waiting_.empty()) {
                    running_ = false;
                    return;
                }
                asked.swap(waiting_);  // every one of them asked before the read below starts
            }
            std::unique_ptr<Answer> answer;
            try {
                answer = std::make_unique<Answer>(read());
            } catch (...) {
                // Against the contract: the callers asked go back to wait for the next runner,
                // and the runner's role is given up, so that the next caller starts one.
                std::lock_guard lock(mutex_);
                waiting_.insert(waiting_.begin(), std::make_move_iterator(asked.begin()), std::make_move_iterator(asked.end()));
                running_ = false;
                throw;
            }
            {
                std::lock_guard lock(mutex_);
                ++reads_;
            }
            for (const Deliver& deliver : asked) {
                try {
                    deliver(*answer);
                } catch (...) {
                }
            }
        }
    }

    mutable std::mutex mutex_;
    std::vector<Deliver> waiting_;  // the callers the next read answers
    bool running_ = false;          // whether a runner holds the reads
    std::uint64_t reads_ = 0;
};

}  // namespace flow::service
