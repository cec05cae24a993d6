#include "support/pg_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <grp.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <pwd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "support/test_util.h"

namespace cdc::testing {
namespace {

namespace fs = std::filesystem;

Result<int> FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return ErrnoError("socket", errno);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    int err = errno;
    close(fd);
    return ErrnoError("bind 127.0.0.1:0", err);
  }
  close(fd);
  return static_cast<int>(ntohs(addr.sin_port));
}

// The uid/gid to run PostgreSQL's tools as: `postgres` when we are root, else ourselves.
struct RunAs {
  bool switch_user = false;
  uid_t uid = 0;
  gid_t gid = 0;
};

Result<RunAs> ResolveRunAs() {
  RunAs r;
  if (geteuid() != 0) return r;
  passwd* pw = getpwnam("postgres");
  if (pw == nullptr) {
    return FailedPrecondition("running as root but there is no `postgres` OS user for initdb");
  }
  r.switch_user = true;
  r.uid = pw->pw_uid;
  r.gid = pw->pw_gid;
  return r;
}

std::string ReadFileTail(const std::string& path, size_t max_bytes) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return "";
  std::stringstream ss;
  ss << in.rdbuf();
  std::string s = ss.str();
  return s.size() > max_bytes ? s.substr(s.size() - max_bytes) : s;
}

std::string QuoteConf(std::string_view v) {
  std::string out = "'";
  for (char c : v) {
    if (c == '\'') out.push_back('\'');
    out.push_back(c);
  }
  return out + "'";
}

std::string QuoteDsn(std::string_view v) {
  std::string out = "'";
  for (char c : v) {
    if (c == '\'' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  return out + "'";
}

}  // namespace

Status PgServer::RunTool(const std::vector<std::string>& args, const std::string& log_name) const {
  CDC_ASSIGN_OR_RETURN(RunAs as, ResolveRunAs());
  std::string log_path = dir_ + "/" + log_name;
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  pid_t pid = fork();
  if (pid < 0) return ErrnoError("fork", errno);
  if (pid == 0) {
    int fd = open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
      dup2(fd, 1);
      dup2(fd, 2);
      close(fd);
    }
    int devnull = open("/dev/null", O_RDONLY);
    if (devnull >= 0) dup2(devnull, 0);
    if (as.switch_user) {
      if (setgroups(0, nullptr) != 0 || setgid(as.gid) != 0 || setuid(as.uid) != 0) _exit(126);
    }
    if (chdir(dir_.c_str()) != 0) _exit(126);
    execv(argv[0], argv.data());
    _exit(127);
  }
  int wstatus = 0;
  while (waitpid(pid, &wstatus, 0) < 0) {
    if (errno != EINTR) return ErrnoError("waitpid", errno);
  }
  if (WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0) return Status::Ok();
  return Internal(args[0] + " failed (" + std::to_string(WEXITSTATUS(wstatus)) +
                  "): " + ReadFileTail(log_path, 2000));
}

Result<std::unique_ptr<PgServer>> PgServer::Start(const PgServerOptions& options) {
  std::unique_ptr<PgServer> s(new PgServer());
  s->options_ = options;
  std::string tmpl = (fs::temp_directory_path() / "cdc-pg-XXXXXX").string();
  if (mkdtemp(tmpl.data()) == nullptr) return ErrnoError("mkdtemp", errno);
  s->dir_ = tmpl;
  s->data_dir_ = s->dir_ + "/data";
  CDC_ASSIGN_OR_RETURN(RunAs as, ResolveRunAs());
  if (as.switch_user && chown(s->dir_.c_str(), as.uid, as.gid) != 0) {
    return ErrnoError("chown " + s->dir_, errno);
  }
  chmod(s->dir_.c_str(), 0700);
  const std::string bin = options.bin_dir + "/";
  CDC_RETURN_IF_ERROR(s->RunTool({bin + "initdb", "-D", s->data_dir_, "-A", "trust", "-U",
                                  "postgres", "-E", "UTF8", "--locale=C", "--no-sync"},
                                 "initdb.log"));
  // This PostgreSQL build may only load output plugins listed in output_plugin_libraries; stock
  // builds do not know the setting and refuse to start with it.
  bool has_plugin_list =
      s->RunTool({bin + "postgres", "-D", s->data_dir_, "-C", "output_plugin_libraries"},
                 "probe.log")
          .ok();
  {
    std::ofstream conf(s->data_dir_ + "/postgresql.conf", std::ios::app);
    conf << "\n# cdc-pipeline test server\n"
         << "listen_addresses = '127.0.0.1'\n"
         << "unix_socket_directories = " << QuoteConf(s->dir_) << "\n"
         << "wal_level = " << options.wal_level << "\n"
         << "max_replication_slots = 20\nmax_wal_senders = 20\nmax_connections = 60\n"
         << "fsync = off\nfull_page_writes = off\nsynchronous_commit = off\n"
         << "shared_buffers = 32MB\n";
    if (has_plugin_list) conf << "output_plugin_libraries = 'pgoutput,test_decoding,wal2json'\n";
    for (const auto& [name, value] : options.settings) {
      conf << name << " = " << QuoteConf(value) << "\n";
    }
    if (!conf) return IoError("cannot write postgresql.conf");
  }
  Status last;
  for (int attempt = 0; attempt < 5; ++attempt) {
    CDC_ASSIGN_OR_RETURN(s->port_, FreePort());
    {
      std::ofstream conf(s->data_dir_ + "/postgresql.conf", std::ios::app);
      conf << "port = " << s->port_ << "\n";
    }
    last = s->StartServer();
    if (last.ok()) return s;
  }
  return last;
}

Status PgServer::StartServer() {
  Status st = RunTool({options_.bin_dir + "/pg_ctl", "start", "-w", "-t", "60", "-D", data_dir_,
                       "-l", dir_ + "/server.log"},
                      "pg_ctl.log");
  if (!st.ok()) return Internal(st.message() + "\nserver log:\n" + LogTail());
  running_ = true;
  return Status::Ok();
}

PgServer::~PgServer() {
  if (running_) (void)Stop();
  if (!dir_.empty()) {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
}

Status PgServer::Stop() {
  if (!running_) return Status::Ok();
  running_ = false;
  return RunTool({options_.bin_dir + "/pg_ctl", "stop", "-m", "immediate", "-w", "-D", data_dir_},
                 "pg_ctl.log");
}

Status PgServer::Restart(std::string_view mode) {
  if (running_) {
    CDC_RETURN_IF_ERROR(RunTool(
        {options_.bin_dir + "/pg_ctl", "stop", "-m", std::string(mode), "-w", "-D", data_dir_},
        "pg_ctl.log"));
    running_ = false;
  }
  return StartServer();
}

std::string PgServer::Dsn(std::string_view dbname, std::string_view user) const {
  return "host=127.0.0.1 port=" + std::to_string(port_) + " user=" + QuoteDsn(user) +
         " dbname=" + QuoteDsn(dbname) + " connect_timeout=10";
}

std::string PgServer::ReplicationDsn(std::string_view dbname) const {
  return Dsn(dbname) + " replication=database";
}

Result<PgServer::Rows> PgServer::Query(std::string_view sql, std::string_view dbname) const {
  PGconn* conn = PQconnectdb(Dsn(dbname).c_str());
  PQsetNoticeProcessor(
      conn, [](void*, const char*) {}, nullptr);
  if (PQstatus(conn) != CONNECTION_OK) {
    std::string err = PQerrorMessage(conn);
    PQfinish(conn);
    return Unavailable("test server: cannot connect: " + err);
  }
  PGresult* res = PQexec(conn, std::string(sql).c_str());
  ExecStatusType st = PQresultStatus(res);
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
    std::string err = PQerrorMessage(conn);
    PQclear(res);
    PQfinish(conn);
    return Internal("test server: query failed: " + err);
  }
  Rows rows;
  for (int r = 0; r < PQntuples(res); ++r) {
    auto& row = rows.emplace_back();
    for (int c = 0; c < PQnfields(res); ++c) {
      if (PQgetisnull(res, r, c)) {
        row.emplace_back();
      } else {
        row.emplace_back(
            std::string(PQgetvalue(res, r, c), static_cast<size_t>(PQgetlength(res, r, c))));
      }
    }
  }
  PQclear(res);
  PQfinish(conn);
  return rows;
}

Status PgServer::Execute(std::string_view sql, std::string_view dbname) const {
  auto rows = Query(sql, dbname);
  return rows.ok() ? Status::Ok() : rows.status();
}

Result<std::string> PgServer::QueryValue(std::string_view sql, std::string_view dbname) const {
  CDC_ASSIGN_OR_RETURN(Rows rows, Query(sql, dbname));
  if (rows.empty() || rows[0].empty()) return NotFound("test server: query returned no row");
  return rows[0][0].value_or("");
}

Status PgServer::WriteDataFile(std::string_view name, std::string_view content, int mode) const {
  std::string path = data_dir_ + "/" + std::string(name);
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << content;
    if (!out) return IoError("cannot write " + path);
  }
  CDC_ASSIGN_OR_RETURN(RunAs as, ResolveRunAs());
  if (as.switch_user && chown(path.c_str(), as.uid, as.gid) != 0) {
    return ErrnoError("chown " + path, errno);
  }
  if (chmod(path.c_str(), static_cast<mode_t>(mode)) != 0)
    return ErrnoError("chmod " + path, errno);
  return Status::Ok();
}

std::string PgServer::LogTail(size_t max_bytes) const {
  return ReadFileTail(dir_ + "/server.log", max_bytes);
}

Result<std::unique_ptr<PgServer>> PgServer::StartCoreDb(const PgServerOptions& options) {
  CDC_ASSIGN_OR_RETURN(auto server, Start(options));
  CDC_RETURN_IF_ERROR(server->Execute("CREATE DATABASE coredb"));
  // Read here rather than with test_util's ReadFile: some tests build this file alone.
  std::ifstream in(std::string(CDC_SOURCE_DIR) + "/sql/coredb.sql");
  if (!in) return Unavailable("cannot read sql/coredb.sql under " + std::string(CDC_SOURCE_DIR));
  std::stringstream sql;
  sql << in.rdbuf();
  CDC_RETURN_IF_ERROR(server->Execute(sql.str(), "coredb"));
  return server;
}

}  // namespace cdc::testing
