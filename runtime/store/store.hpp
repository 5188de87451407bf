// The durable store behind flowd. An interface, so that PostgreSQL can implement it next to
// SQLite: nothing above it knows SQL. Expected failures are values (StoreError), never
// exceptions; every method documents what it reads or writes.
#pragma once

#include "runtime/engine/instance.hpp"

#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace flow::store {

// Why a store operation failed, in the terms the HTTP layer maps to a status once.
struct StoreError {
    enum class Kind {
        Unavailable,  // the database cannot take writes now (full, locked, read-only): 503
        Conflict,     // a rule of the data was broken (a changed workflow under an unchanged version)
        NotFound,
        Corrupt,      // the database holds something this version cannot read
    };
    Kind kind = Kind::Unavailable;
    std::string message;
};

template <typename T>
struct Result {
    std::optional<T> value;
    std::optional<StoreError> error;
    bool ok() const { return !error; }
    static Result success(T v) { return {std::move(v), std::nullopt}; }
    static Result failure(StoreError e) { return {std::nullopt, std::move(e)}; }
};
using Status = std::optional<StoreError>;  // nothing means success

// A deployed workflow version: what `flowd --flows` compiled, and the sources it came from,
// so that running instances of an older version can still be executed after an upgrade.
struct Definition {
    std::string workflow;
    int version = 1;
    std::string hash;
    std::string ir;       // the compiled form, as JSON
    std::string sources;  // {"file name": "text", …} as JSON
    std::string deployed_at;
};

// An instance as stored: the engine's instance plus bookkeeping.
struct StoredInstance {
    engine::Instance instance;   // `workflow` is left -1: the caller resolves the name
    std::string workflow;        // the workflow's name
    std::string state;           // the state's name, or empty
    std::int64_t row = 0;        // insertion order: the pagination cursor
    std::string created_at;
    std::string updated_at;
};

struct OutboxCommand {
    std::int64_t row = 0;
    std::string id;
    std::string instance;
    std::string workflow;
    std::string key;       // JSON
    std::string type;
    std::string target;
    std::string payload;   // the command's data, JSON
    std::string status;    // pending, delivered, dead
    int attempts = 0;
    std::int64_t next_attempt_ms = 0;  // a pending command's next attempt, or waits_for_earlier_command
    std::string last_error;
    std::string created_at;
    // Set by the writer of a new command known to be the first pending one of its instance (the
    // first a new instance emits), so that the store need not look for an earlier one.
    bool first_of_instance = false;
    // The next_attempt_ms of a pending command emitted while an earlier command of its instance
    // was pending: it is due only once the instance's commands before it are delivered or dead,
    // when the store makes it due in the transaction that records that. So the relay reads only
    // the commands it may send, however long an instance's queue behind them.
    static constexpr std::int64_t waits_for_earlier_command = std::numeric_limits<std::int64_t>::max();
    bool waits_for_earlier() const { return status == "pending" && next_attempt_ms == waits_for_earlier_command; }
};

struct InstanceFilter {
    std::string workflow, status, key;  // empty: any; `key` as stored (JSON)
    std::string key_alternative;        // a second JSON form of the key to match (an int's text)
    std::int64_t after_row = 0;
    int limit = 100;
    std::string state;  // empty: any; the state last entered (of an ended instance too)
};

struct HistoryEntry {
    std::string at;
    std::string kind;    // delivery, transition, timer, command, cancel, terminate, error, command_deleted
    std::string detail;  // JSON
};

struct DueTimer {
    std::string instance;
    engine::PendingTimer timer;
};

// What became of one delivery attempt of an outbox command.
struct DeliveryAttempt {
    enum class Result { Delivered, Retry, Dead };
    DeliveryAttempt() = default;
    DeliveryAttempt(Result result, std::string id, int attempts, std::int64_t next_attempt_ms, std::string error, std::string at,
                    std::string instance = {}, std::int64_t due_ms = 0)
        : result(result), id(std::move(id)), attempts(attempts), next_attempt_ms(next_attempt_ms), error(std::move(error)),
          at(std::move(at)), instance(std::move(instance)), due_ms(due_ms) {}
    Result result = Result::Delivered;
    std::string id;
    int attempts = 0;                  // attempts made so far, this one included
    std::int64_t next_attempt_ms = 0;  // Retry
    std::string error;                 // Retry, Dead
    std::string at;                    // Delivered: when
    // The command's instance and the time it was due when sent, as the relay read them: what
    // the store needs to make the instance's next command due. Looked up by `id` when empty.
    std::string instance;
    std::int64_t due_ms = 0;
    // The command's row as the relay read it, which finds it without its id's index; 0: by `id`.
    std::int64_t row = 0;
};

// The writes of one batch of events: everything commits together or nothing does.
class Transaction {
public:
    virtual ~Transaction() = default;
    // The response recorded for an event id, when the id was accepted before.
    virtual Result<std::optional<std::string>> recorded_event(const std::string& event_id) = 0;
    virtual Status record_event(const std::string& event_id, const std::string& type, const std::string& response,
                                const std::string& at) = 0;
    virtual Result<std::optional<StoredInstance>> running_instance(const std::string& workflow, const std::string& key_json) = 0;
    virtual Result<std::optional<StoredInstance>> instance(const std::string& id) = 0;
    // Binds a signed message (a digest of what its signature covers) to a digest of what it was
    // read as (`read_digest`, which the unsigned headers decide) and of the event ids it was read
    // as carrying (`ids_digest`; empty when it could not be read), the first time the message is
    // seen. Same then, and when it comes again read the same way (sent again as it was, which
    // keeps the binding from `now_ms` on); SameIds when it comes read otherwise but carrying the
    // ids it first carried; Other when read otherwise with other ids (a replay with altered
    // headers). Neither of the last two changes the binding. Forgets first the messages bound
    // (or last sent again) before `forget_before_ms`, too old to be replayed.
    enum class WebhookReading { Same, SameIds, Other };
    virtual Result<WebhookReading> bind_webhook_message(const std::string& message_digest, const std::string& read_digest,
                                                        const std::string& ids_digest, std::int64_t now_ms,
                                                        std::int64_t forget_before_ms) = 0;
    // What a step changed in an instance, so that an update rewrites only what it must: an
    // indexed column assigned, even to the value it had, rewrites its index entries.
    struct InstanceChanges {
        bool is_new = false;          // insert rather than update
        bool status_changed = true;   // the status column (and the indexes over it)
        bool timers_changed = true;   // replace the pending timers with instance.timers
    };
    virtual Status save_instance(StoredInstance instance, InstanceChanges changes) = 0;
    // Ends a running instance `cancelled` as of `updated_at` and drops its pending timers,
    // rewriting nothing else of its row (its state, variables and compensations stay as they
    // were, even unreadable ones): an operator's terminate.
    virtual Status end_cancelled(const StoredInstance& instance, const std::string& updated_at) = 0;
    virtual Status add_command(const OutboxCommand& command) = 0;
    virtual Status drop_timer(const std::string& instance, std::uint64_t sequence) = 0;
    // Looks at a due timer again at `due_ms` (the instance keeps the time it fell due).
    virtual Status postpone_timer(const std::string& instance, std::uint64_t sequence, std::int64_t due_ms) = 0;
    // Records what became of delivery attempts (the relay's, taken into the writer's batches).
    virtual Status record_attempts(const std::vector<DeliveryAttempt>& attempts) = 0;
    // Gives a dead command a new round of attempts, due at `now_ms`; NotFound, or Conflict when
    // it is not dead. (In a transaction, so that its commit wakes the relay like any other.)
    virtual Status retry_dead(const std::string& id, std::int64_t now_ms) = 0;
    // Gives the dead commands after `after_row` a new round of attempts, due at `now_ms`: oldest
    // first, only those to `target` unless it is empty, at most `limit`. `next_after_row` is the
    // row of the last one retried when more dead commands remain after it, else 0.
    struct DeadRetried {
        int retried = 0;
        std::int64_t next_after_row = 0;
    };
    virtual Result<DeadRetried> retry_dead_commands(const std::string& target, std::int64_t after_row, int limit,
                                                    std::int64_t now_ms) = 0;
    // Makes at most `limit` of the pending commands to `target` that wait for a retry's backoff
    // (due after `now_ms`) due at `now_ms`, the soonest due first, their attempts kept; a command
    // waiting behind an earlier one of its instance keeps waiting. `more` when others still wait.
    struct Expedited {
        int expedited = 0;
        bool more = false;
    };
    virtual Result<Expedited> expedite_pending(const std::string& target, int limit, std::int64_t now_ms) = 0;
    // A page of the dead commands after `after_row`, oldest first, only those to `target` unless
    // it is empty: the ids of at most `limit`, and `next_after_row` as for retry_dead_commands.
    struct DeadPage {
        std::vector<std::string> ids;
        std::int64_t next_after_row = 0;
    };
    virtual Result<DeadPage> dead_commands(const std::string& target, std::int64_t after_row, int limit) = 0;
    // Deletes a dead command for good (its operator gives up on it) and gives it back as it was;
    // NotFound, or Conflict when it is not dead. Its instance counts as changed `at` (updated_at);
    // what its history says of the deletion is the caller's to write.
    virtual Result<OutboxCommand> delete_dead(const std::string& id, const std::string& at) = 0;
    // Appends the entries one step wrote, in order (stored together: one row per step).
    virtual Status add_history(const std::string& instance, const std::vector<HistoryEntry>& entries) = 0;
    // Whether the transaction is still open: after some errors (I/O, a full disk) the database
    // may have rolled it back by itself, and then nothing more may be written in it.
    virtual bool intact() const = 0;
    // Rows written so far in this transaction: a job that failed without writing any needs
    // nothing undone.
    virtual std::int64_t rows_written() const = 0;
    // A savepoint around one event, so that one event's failure undoes only its own writes.
    virtual Status savepoint() = 0;
    virtual Status release_savepoint() = 0;
    virtual Status rollback_to_savepoint() = 0;
    virtual Status commit() = 0;  // rolls back on failure; the transaction is over either way
};

// The writer's cache of running instances (instance_cache.hpp), for /metrics: look-ups that
// found their instance there and that read the database, and the instances it holds.
struct InstanceCacheCounts {
    std::uint64_t hits = 0;
    std::uint64_t misses = 0;
    std::size_t entries = 0;
};

class Store {
public:
    virtual ~Store() = default;

    // Records definitions, or finds them recorded with the same hash, in one transaction: a
    // different hash under the same workflow and version is a Conflict, and records none of them.
    virtual Status deploy_all(const std::vector<Definition>& definitions) = 0;
    Status deploy(const Definition& definition) { return deploy_all({definition}); }
    virtual Result<std::vector<Definition>> definitions() = 0;

    // Only one transaction at a time is open (the writer's); it blocks other writers.
    virtual Result<std::unique_ptr<Transaction>> begin() = 0;

    // Reads for the API.
    virtual Result<std::vector<StoredInstance>> instances(const InstanceFilter& filter) = 0;
    virtual Result<std::optional<StoredInstance>> instance(const std::string& id) = 0;
    // The response recorded for an event id, read outside the writer's transaction (for
    // duplicates in a batch the database failed to commit).
    virtual Result<std::optional<std::string>> recorded_event(const std::string& event_id) = 0;
    // What the inbox keeps of an accepted event id: its type, the answer recorded, and when it
    // was accepted; nothing when the id was never accepted (or its record was pruned).
    struct InboxRecord {
        std::string type;
        std::string response;
        std::string received_at;
    };
    virtual Result<std::optional<InboxRecord>> inbox_record(const std::string& event_id) = 0;
    // An instance with its history, both as of one moment (one read transaction: a commit between
    // the two reads would pair a state with a history it has not reached, or gone past); nothing
    // when there is no such instance.
    struct InstanceDetail {
        StoredInstance instance;
        std::vector<HistoryEntry> history;
    };
    virtual Result<std::optional<InstanceDetail>> instance_detail(const std::string& id) = 0;
    // A place in an instance's history: an entry, as its row and its place among the row's
    // entries (the entries of one step share a row). History is only appended to, so a place
    // stays valid while its instance is kept.
    struct HistoryPosition {
        std::int64_t row = 0;
        std::int64_t index = 0;
        friend bool operator==(const HistoryPosition&, const HistoryPosition&) = default;
    };
    struct HistoryPage {
        std::vector<HistoryEntry> entries;
        std::optional<HistoryPosition> last;  // of the last entry given, else the `after` given
        bool more = false;                    // whether entries follow the last one given
        bool after_unknown = false;           // the `after` given is no entry of the instance: nothing read
    };
    // At most `limit` entries of an instance's history after the entry `after` (from the first
    // without one), in the order written; nothing when there is no such instance.
    virtual Result<std::optional<HistoryPage>> history(const std::string& instance, std::optional<HistoryPosition> after,
                                                       int limit) = 0;
    // One command with what only its own page shows: when it was delivered (empty until then).
    struct CommandDetail {
        OutboxCommand command;
        std::string delivered_at;
    };
    virtual Result<std::optional<CommandDetail>> command(const std::string& id) = 0;
    // Commands in insertion order, of one status (empty: any), after a row (0: from the first),
    // of one target (empty: any).
    virtual Result<std::vector<OutboxCommand>> outbox(const std::string& status, int limit, std::int64_t after_row = 0,
                                                      const std::string& target = {}) = 0;
    // Counts for /metrics: instances by status, outbox rows by status, pending timers.
    virtual Result<std::vector<std::pair<std::string, std::int64_t>>> counts() = 0;
    // Read from any thread, without waiting for the writer.
    virtual InstanceCacheCounts instance_cache_counts() const = 0;

    // The rows of pending commands to leave out of a read, by target (those the relay has in hand).
    using RowsByTarget = std::map<std::string, std::vector<std::int64_t>>;
    // The relay: the first pending command of each instance whose turn has come (earlier
    // commands of the instance delivered or dead), due at or before now, leaving out the rows in
    // `skip`. Target by target, in the order of their names: at most `limit(target)` of each
    // (none when 0), the earliest due first. So a target whose backlog is due first never hides
    // another target's commands.
    virtual Result<std::vector<OutboxCommand>> deliverable(std::int64_t now_ms, const std::function<int(const std::string&)>& limit,
                                                           const RowsByTarget& skip) = 0;
    // The earliest next attempt of a pending command after `after_ms`. Commands already due are
    // left out: one of them may be waiting behind its instance's earlier command, and must not
    // hide the retry of that earlier one, which is what will free it.
    virtual Result<std::optional<std::int64_t>> next_command_due(std::int64_t after_ms) = 0;
    // Where a prune that looked at as many rows as it was given stopped; the next call goes on
    // from there, so that rows kept (pending or dead commands, instances ended after the cutoff)
    // are not looked at again and again while older rows behind them wait. `{}`: from the start.
    struct PruneCursor {
        int part = 0;  // which range of rows (the instances: which end status)
        std::int64_t after_row = 0;
        bool operator==(const PruneCursor&) const = default;
    };
    // What a prune deleted, and whether rows remain to be looked at (call again from `resume`).
    // A failure after some deletions were committed is not a failed result, so that they are
    // counted: `error` says what stopped the prune.
    struct Pruned {
        std::int64_t deleted = 0;
        // Ended instances read as old enough that had changed by the time they were to be
        // deleted (a dead command of theirs deleted meanwhile moves their end on), or were gone:
        // kept, or left.
        std::int64_t kept_as_changed = 0;
        bool finished = true;
        PruneCursor resume;
        std::optional<StoreError> error;
    };
    // Deletes commands delivered before the cutoff, looking at no more than `most_rows` rows (in
    // transactions of a few thousand, the writer let in between), from `from` on.
    virtual Result<Pruned> prune_delivered(const std::string& before, std::int64_t most_rows, PruneCursor from) = 0;
    // Deletes the instances that ended (completed, failed or cancelled) before the cutoff, each
    // with its history, its timers and its delivered commands, in the same way. An instance with
    // a pending command (not yet delivered) or a dead one (the operator's to retry) is kept, with
    // all it owns, until that command is delivered. The inbox is left (prune_inbox): an event id
    // accepted once is answered as a duplicate for as long as it keeps it.
    virtual Result<Pruned> prune_ended_instances(const std::string& before, std::int64_t most_rows, PruneCursor from) = 0;
    // Deletes the inbox's entries (accepted event ids and their answers) made before the cutoff,
    // the oldest first, at most `most_rows` (in transactions of a few thousand, the writer let in
    // between): an event sent again after that is no longer known, and is taken as new.
    virtual Result<Pruned> prune_inbox(const std::string& before, std::int64_t most_rows) = 0;

    // The timer loop.
    virtual Result<std::vector<DueTimer>> due_timers(std::int64_t now_ms, int limit) = 0;
    virtual Result<std::optional<std::int64_t>> next_timer_due() = 0;
    virtual Result<std::uint64_t> max_timer_sequence() = 0;

    virtual bool healthy() = 0;
};

}  // namespace flow::store
