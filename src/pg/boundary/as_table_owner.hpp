// Work on a tenant table as its owner when a superuser calls us, as PostgreSQL itself does for
// maintenance on tables owned by others (VACUUM, ANALYZE, REFRESH MATERIALIZED VIEW): the table
// owner's code (triggers that fire in replica mode, CHECK constraints, index expressions,
// defaults) then never runs as a superuser. A caller who is not a superuser keeps its own rights,
// as with any statement it runs itself. In both cases search_path is pg_catalog, pg_temp.
#pragma once
#include "pg/boundary/pg_headers.hpp"

namespace tb::pg {

// The owner of a relation (pg_class.relowner). Plain PostgreSQL calls (inside pg_call).
Oid relation_owner(Oid relid);

class AsTableOwner {
public:
	enum class Mode {
		Restricted, // SECURITY_RESTRICTED_OPERATION as well: for statements that run the owner's code
		Plain,      // only the user changes: for utility statements that run no user code (CREATE TEMP TABLE)
	};
	explicit AsTableOwner(Oid relid, Mode mode = Mode::Restricted);
	// The same scope for a role known already (the owner of code a value's conversion would run).
	struct Role {
		Oid oid;
	};
	AsTableOwner(Role role, Mode mode);
	~AsTableOwner();
	AsTableOwner(const AsTableOwner &) = delete;
	AsTableOwner &operator=(const AsTableOwner &) = delete;

private:
	void enter(Oid relid, Oid role, Mode mode);
	Oid saved_user_ = InvalidOid;
	int saved_context_ = 0;
	int exceptions_at_entry_ = 0;
	int guc_level_ = 0;
};

} // namespace tb::pg
