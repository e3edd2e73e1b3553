// Master keys: where they come from and how they are read. A key source holds one or more keys,
// one per line as 64 hex characters; the first is current (it wraps new data keys), the others
// are older keys kept only so that data keys wrapped under them can be rotated.
#pragma once
#include "core/crypto/chunk_cipher.hpp"

#include <string>
#include <vector>

namespace tb::crypto {

// Parses a key list (blank lines and lines starting with '#' are ignored); at least one key.
std::vector<Key> parse_key_list(const std::string &text, const std::string &origin);

// Reads a key file, refusing one that other users could read (mode & 077), one that is not a
// regular file, and one inside forbidden_dir (the data directory: keys must not travel with
// the data they protect).
std::vector<Key> read_key_file(const std::string &path, const std::string &forbidden_dir);

} // namespace tb::crypto
