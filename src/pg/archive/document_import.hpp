// Importing a JSON document (backup_download's format) as a new backup of kind 'imported'.
#pragma once
#include "core/stream/stream.hpp"
#include "pg/boundary/pg_headers.hpp"

#include "pg/catalog/audit.hpp"

#include <functional>

namespace tb::pg {

// Reads source to its end to check the document, calls rewind, reads it again to store its rows
// in a new archive, and records the backup (published at commit; audited as "import"). Returns
// the backup's id. Needs the caller to hold backup.restore on the document's tenant. `audit` is
// the caller's "import" action, made before it checked its argument.
int64 import_document(Source &source, const std::function<void()> &rewind, AuditedAction &audit);

} // namespace tb::pg
