// A restore request as an asynchronous job carries it (tenant_backup.backup_jobs.options, a jsonb
// object, beside the strict column): written at submission from the very RestoreRequest the
// synchronous call would run, read back by the job's worker, so that a job restores exactly as
// the call with the same options would (restore.hpp, run_restore).
//
//   {"dry_run": false, "pre_restore_backup": null, "mode": "exact", "tables": ["app.items"],
//    "rows": {"app.invoices": [{"id": 17}]}}
//
// tables: the names ("schema.name") the tables => argument resolved to at submission, or absent;
// rows: the rows => argument as jsonb printed it, or absent. A job without options (NULL) is a
// restore with every default.
#pragma once
#include "pg/archive/restore.hpp"

#include <optional>
#include <string>

namespace tb::pg {

// The request's options, strict aside (its own column), as a JSON object.
std::string restore_request_json(const RestoreRequest &request);
// The request a job's options and strict describe. Needs SPI connected.
RestoreRequest restore_request_from_json(const std::optional<std::string> &options, bool strict);

} // namespace tb::pg
