// Server: aiond's HTTP/1.1 listener on a unix socket and, optionally, on TCP.
//
// Unix-socket callers are identified by SO_PEERCRED: root, the daemon's own user and
// members of the socket group ("aion") are admins, everybody else a viewer. TCP callers must
// send "Authorization: Bearer <token>" or the cookie of a dashboard session (opened with a
// token; see sessions.h for its CSRF rule); the Authenticator decides who they are. Routes
// marked public_ok (the dashboard's files and login) need neither. Bodies over
// max_body_bytes get 413, malformed requests 400, both in the JSON error envelope; idle
// connections are closed after idle_timeout. Streaming routes (Response::sse) are sent as
// server-sent events until the source ends or the server stops.
//
// One peer cannot stall the API: connections and SSE streams are capped per peer (per uid on
// the unix socket, per IP address on TCP; over the cap a connection gets 429 and is closed),
// a request's header must arrive within header_timeout of its first byte (slowloris), every
// response and SSE frame must be taken by the peer within write_timeout, and handlers run on
// a bounded pool of `workers` threads (full: 503), except the routes marked inline_ok, which
// are answered on the I/O threads and so stay prompt whatever the workers do.
//
// TLS: with tls_cert and tls_key set, the TCP listener speaks only TLS (1.2 or newer). Bearer
// tokens in clear text on a non-loopback address are refused at start() unless
// allow_plaintext_tokens is set (see plaintext_tokens_refused()).
//
// start() binds and returns once the listeners accept; the I/O runs on `threads` threads of
// the server's own. stop() closes the listeners, lets requests already being handled finish
// (up to `grace`), then closes every connection and joins the threads.
//
// Thread-safety: start() and stop() are called from one controlling thread; listeners()
// (fixed once start() returns) and in_flight() (atomic) are thread-safe. Handlers and the
// Authenticator are called from several threads at once; they and the Router must outlive
// the server. The role_for_peer() and plaintext_tokens_refused() functions are thread-safe.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "aion/api/http.h"
#include "aion/api/router.h"
#include "aion/api/sessions.h"
#include "aion/core/error.h"

namespace aion::api {

// Resolves a bearer token to an identity; an error (kUnauthenticated) is answered with 401.
using Authenticator = std::function<Result<Identity>(std::string_view token)>;

struct ServerOptions {
  std::filesystem::path unix_socket;  // empty: no unix listener (TCP only)
  unsigned socket_mode = 0660;
  std::string socket_group = "aion";      // admin group; chown'ed when it exists
  std::optional<std::string> tcp_listen;  // "127.0.0.1:7070", "[::1]:7070"
  int threads = 2;
  std::size_t max_body_bytes = 1 << 20;
  std::chrono::milliseconds idle_timeout{60000};
  // GET paths that TCP clients may call without a token, as the viewer "anonymous" (/metrics
  // for a Prometheus that scrapes the node like node_exporter).
  std::vector<std::string> public_paths;
  // Every TCP caller without a token is the viewer "anonymous", whatever the path and method:
  // for listeners that only trusted peers reach, such as the Kubernetes scheduler extender,
  // which kube-scheduler calls without credentials.
  bool tcp_anonymous = false;

  // Per-peer caps (a peer: a uid on the unix socket, an IP address on TCP).
  int max_connections_per_peer = 32;
  int max_streams_per_peer = 4;
  // From the first byte of a request to the end of its header.
  std::chrono::milliseconds header_timeout{10000};
  // How long the peer may take to accept one response or one SSE frame.
  std::chrono::milliseconds write_timeout{30000};
  // Threads that run handlers which may block, and requests that may wait for one.
  int workers = 4;
  std::size_t max_queued = 256;

  // TLS on the TCP listener: PEM certificate (chain) and private key, both or neither.
  std::filesystem::path tls_cert;
  std::filesystem::path tls_key;
  // Accept bearer tokens over plain TCP on a non-loopback address.
  bool allow_plaintext_tokens = false;
  // Dashboard sessions: TCP callers without an Authorization header may present the session
  // cookie instead (null: no sessions). See sessions.h for the CSRF rule applied to them.
  std::shared_ptr<SessionStore> sessions;
};

struct ListenerInfo {
  std::string kind;     // "unix" | "tcp"
  std::string address;  // socket path or host:port actually bound
};

class Server {
 public:
  Server(ServerOptions options, const Router& router, Authenticator authenticate);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  Status start();
  void stop(std::chrono::milliseconds grace);
  std::vector<ListenerInfo> listeners() const;
  // Requests being handled right now (for status and drain).
  int in_flight() const;

  class Impl;  // opaque; public so that server.cc's session classes can name it

 private:
  std::unique_ptr<Impl> impl_;
};

// Whether a TCP listener bound to `address` would receive bearer tokens in clear text over a
// network: not TLS, tokens accepted, the address not a loopback one (0.0.0.0 and :: are not),
// and the operator has not allowed it explicitly.
bool plaintext_tokens_refused(std::string_view address, bool tls, bool accepts_tokens,
                              bool allow_plaintext_tokens);

// Role of a unix-socket peer: admin for root, for `daemon_uid` and for a process that holds
// `admin_group` as its primary group or among `groups`, the supplementary groups the
// connecting process actually holds (SO_PEERGROUPS), viewer otherwise. A user added to or
// removed from the group gets the new role with its next login, as with file access.
Role role_for_peer(long uid, long gid, std::span<const gid_t> groups, long daemon_uid,
                   std::string_view admin_group);
// The same from the group database, for kernels without SO_PEERGROUPS (before Linux 4.13).
Role role_for_peer(long uid, long gid, long daemon_uid, std::string_view admin_group);

}  // namespace aion::api
