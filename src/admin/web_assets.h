// The wallboard's static files (src/admin/web), embedded in the binary at build time
// (cmake/EmbedFiles.cmake generates their definitions), served by the admin server.
//
// Thread-safety: immutable after the first call.
#pragma once

#include <string_view>
#include <vector>

namespace cdc::admin {

struct WebAsset {
  std::string_view path;          // "/index.html"
  std::string_view content_type;  // "text/html; charset=utf-8"
  std::string_view body;
};

const std::vector<WebAsset>& WebAssets();

}  // namespace cdc::admin
