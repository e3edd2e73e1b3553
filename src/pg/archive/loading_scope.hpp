// The scope of a restore's own DELETE and COPY of one restored table, and nothing else: the
// table's user triggers are off (session_replication_role = replica, as pg_restore
// --disable-triggers does), the statement runs as the table's owner when a superuser restores
// (AsTableOwner, SECURITY_RESTRICTED_OPERATION) and search_path is pg_catalog, pg_temp.
// Foreign-key triggers are off too: the restore checks foreign keys itself afterwards, with
// triggers on again (foreign_keys.hpp). Triggers marked ENABLE ALWAYS or ENABLE REPLICA still fire.
#pragma once
#include "pg/boundary/as_table_owner.hpp"

namespace tb::pg {

class LoadingScope {
public:
	explicit LoadingScope(Oid relid);
	~LoadingScope();
	LoadingScope(const LoadingScope &) = delete;
	LoadingScope &operator=(const LoadingScope &) = delete;

private:
	AsTableOwner owner_;
	int exceptions_at_entry_ = 0;
	int guc_level_ = 0;
};

} // namespace tb::pg
