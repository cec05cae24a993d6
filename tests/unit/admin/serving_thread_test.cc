// The admin and bus API servers stop cleanly however soon after starting: httplib's stop() does
// nothing before its listen loop runs, so a `run` refused right after starting its admin server
// (a data dir in use) once hung in join() forever.
#include <gtest/gtest.h>

#include "admin/http_listen.h"

namespace cdc::admin {
namespace {

TEST(ServingThread, StopRightAfterStartReturns) {
  for (int i = 0; i < 200; ++i) {
    httplib::Server server;
    auto bound = BindServer(server, "127.0.0.1", 0, 1);
    ASSERT_TRUE(bound.ok()) << bound.status().ToString();
    ServingThread serving;
    serving.Start(server);
    serving.Stop(server);
    EXPECT_FALSE(server.is_running());
  }
}

}  // namespace
}  // namespace cdc::admin
