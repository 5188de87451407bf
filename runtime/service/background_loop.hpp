// A thread that runs one round of work after another: between rounds it sleeps for as long as
// the round asked, or until woken (a commit happened) or stopped. The relay and the timer loop
// are such loops.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <pthread.h>
#include <thread>

namespace flow::service {

class BackgroundLoop {
public:
    // One round; returns how long to sleep before the next (zero: at once).
    using Round = std::function<std::chrono::milliseconds()>;

    ~BackgroundLoop() { stop(); }

    // `name` (at most 15 characters) shows in `top -H` and in debuggers.
    void start(const char* name, Round round) {
        thread_ = std::thread([this, name, round = std::move(round)] {
            pthread_setname_np(pthread_self(), name);
            run(round);
        });
    }
    void wake() {
        {
            std::lock_guard lock(mutex_);
            woken_ = true;
        }
        wake_.notify_one();
    }
    // Finishes the round in progress and joins the thread.
    void stop() {
        {
            std::lock_guard lock(mutex_);
            stopping_ = true;
        }
        wake_.notify_one();
        if (thread_.joinable()) thread_.join();
    }
    // For long rounds, to end early when stopping.
    bool stopping() const {
        std::lock_guard lock(mutex_);
        return stopping_;
    }

private:
    void run(const Round& round) {
        for (;;) {
            {
                std::lock_guard lock(mutex_);
                if (stopping_) return;
                woken_ = false;  // a wake from now on asks for another round
            }
            std::chrono::milliseconds sleep = round();
            if (sleep.count() <= 0) continue;
            std::unique_lock lock(mutex_);
            wake_.wait_for(lock, sleep, [&] { return woken_ || stopping_; });
        }
    }

    mutable std::mutex mutex_;  // guards woken_ and stopping_
    std::condition_variable wake_;
    bool woken_ = false;
    bool stopping_ = false;
    std::thread thread_;
};

}  // namespace flow::service
