#pragma once
// The routes of the HTTP API (docs/http-api.md), each a function from the request to its answer,
// taken apart by routes.cpp. They run once the method is checked and, for the admin routes, the
// token; an `id` from the path is in lower case when it is a UUID. Each but post_events answers
// before returning and may block on the database.
#include "runtime/http/routes.hpp"

#include <boost/url/url_view.hpp>

#include <string>

namespace flow::http {

// POST /v1/events (event_routes.cpp). The signature, the decoding and the validation run on the
// calling thread; when the declarations refuse an event, whether it was accepted before is read
// on a worker (Services::run_blocking). The write joins the writer's next batch, and `reply` is
// called from the writer's thread once that batch committed, so no thread waits for the commit.
// A signed message refused is answered the same way, once its binding is written.
void post_events(const Request& req, Services& s, Reply reply);

// GET /v1/events/{id}: what became of an accepted event id (event_routes.cpp).
Response get_event(const Request& req, const std::string& id, Services& s);

// Instances and workflows (instance_routes.cpp).
Response list_instances(const Request& req, const boost::urls::url_view& url, Services& s);      // GET /v1/instances
Response get_instance(const Request& req, const std::string& id, Services& s);                   // GET /v1/instances/{id}
Response get_history(const Request& req, const boost::urls::url_view& url, const std::string& id, Services& s);  // .../history
Response cancel_instance(const Request& req, const std::string& id, Services& s);                // POST .../cancel
// POST .../terminate: ends an instance `cancelled` without running anything of it
// (Processor::terminate).
Response terminate_instance(const Request& req, const std::string& id, Services& s);
Response list_workflows(const Request& req, Services& s);  // GET /v1/workflows
// GET /v1/workflows/{name}/{version}: one stored version with the sources it was compiled from.
Response get_workflow_version(const Request& req, const std::string& name, const std::string& version, Services& s);

// The outbox (outbox_routes.cpp).
Response list_outbox(const Request& req, const boost::urls::url_view& url, Services& s);  // GET /v1/outbox
Response get_command(const Request& req, const std::string& id, Services& s);             // GET /v1/outbox/{id}
Response retry_command(const Request& req, const std::string& id, Services& s);           // POST /v1/outbox/{id}/retry
Response delete_command(const Request& req, const std::string& id, Services& s);          // DELETE /v1/outbox/{id}
// POST /v1/outbox/retry: the dead commands, oldest first, a page at a time (a redrive after a
// target's outage), each given a new round of attempts as POST /v1/outbox/{id}/retry gives one.
Response retry_dead_commands(const Request& req, const boost::urls::url_view& url, Services& s);
// POST /v1/outbox/expedite?target=: a target's pending commands that wait for a retry's backoff
// are made due now (after its outage, so that they need not wait out backoffs of up to
// max_backoff_ms), a page at a time.
Response expedite_pending_commands(const Request& req, const boost::urls::url_view& url, Services& s);
// POST /v1/outbox/delete?target=: one target's dead commands, oldest first, a page at a time,
// each deleted as DELETE /v1/outbox/{id} deletes one (its instance's history keeps an account).
Response delete_dead_commands(const Request& req, const boost::urls::url_view& url, Services& s);

}  // namespace flow::http
