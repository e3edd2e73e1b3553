// Opening a backup's stored archive for reading: checksum first, then a reader bound to the
// backup's id, tenant and keys.
#pragma once
#include "core/archive/archive_reader.hpp"
#include "pg/catalog.hpp"

#include <memory>

namespace tb::pg {

// Refuses unless the stored archive exists and has the size and SHA-256 the catalog recorded;
// `consequence` ends the message (e.g. "nothing was restored").
void check_stored_archive(Storage &storage, const StoredBackup &backup, const char *consequence);

// Reader options for the backup's archive: its id and tenant bind the chunks; keys come from
// tenant_backup.tenant_keys through the configured master key.
archive::ReaderOptions reader_options(const StoredBackup &backup);

} // namespace tb::pg
