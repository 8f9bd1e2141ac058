#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace cheese::webui {

//! One file of daemon/webui/assets/, compiled into cheesed (see embed_assets.cmake).
struct EmbeddedFile {
  std::string_view path;  //!< relative to assets/, e.g. "js/app.js"
  std::string_view bytes;
};

//! Every embedded file, sorted by path (generated at build time).
std::span<const EmbeddedFile> embedded_files();

//! A file ready to serve: its bytes, MIME type and strong ETag.
struct Asset {
  std::string_view bytes;
  std::string_view content_type;
  std::string etag;  //!< "\"<16 hex digits>\"" of the content
};

//! The Content-Type for a file name by its extension ("application/octet-stream" if unknown).
std::string_view content_type_for(std::string_view path);

//! The asset for a URL path ("/" is index.html); nullopt for anything else, including paths
//! with "..", a query or a fragment already stripped by the caller.
std::optional<Asset> find_asset(std::string_view url_path);

}  // namespace cheese::webui
