// URI encoding as AWS Signature V4 defines it. curl signs the URL exactly as given (version 7.88
// neither sorts query parameters nor adds '=' to empty ones), so every URL is built canonical here.
#pragma once
#include <string>
#include <utility>
#include <vector>

namespace tb {

// Leaves A-Za-z0-9 and -._~ as they are (and '/' when keep_slash); every other byte becomes %XX
// in upper-case hex.
std::string uri_encode(const std::string &s, bool keep_slash);

// "k1=v1&k2=v2" with each key and value encoded, sorted by encoded key (then value), and '=' kept
// on empty values ("uploads=").
std::string canonical_query(std::vector<std::pair<std::string, std::string>> params);

} // namespace tb
