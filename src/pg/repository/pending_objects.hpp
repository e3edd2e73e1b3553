// Makes archive files follow the transaction that created or deleted them: a new archive is
// published (renamed into place) just before commit and discarded on abort; a deleted archive
// is unlinked only after commit. Savepoints are honoured.
#pragma once
#include "core/storage/storage.hpp"

#include <memory>

namespace tb::pg {

void register_transaction_callbacks();
// Takes a finished (durable) WriteObject of `storage`; publishes it at pre-commit, discards it on abort.
void publish_at_commit(std::shared_ptr<Storage> storage, std::unique_ptr<WriteObject> object);
// An object this transaction already published (an off-site copy, published at once so that its
// failure cannot fail the commit): removed if the transaction, or the savepoint it was published
// under, aborts.
void remove_at_abort(std::shared_ptr<Storage> storage, const std::string &name);
// Whether an archive of this name waits for this transaction to commit.
bool awaiting_publication(const std::string &name);
// Whether this transaction removes an object of this name when it commits.
bool awaiting_removal(const std::string &name);
// Removes name from the repository once the transaction commits (best effort: what cannot be
// removed then is left for backup_sync()).
void remove_at_commit(std::shared_ptr<Storage> storage, const std::string &name);

} // namespace tb::pg
