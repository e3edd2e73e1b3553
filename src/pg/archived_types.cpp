#include "pg/archived_types.hpp"

#include "pg/guard.hpp"
#include "pg/search_path.hpp"

extern "C" {
#include "parser/parse_type.h"
#include "utils/builtins.h"
}

namespace tb::pg {

namespace {

// Plain PostgreSQL calls: the type on the pinned path, else (0.1.0's unqualified names) on the
// caller's. InvalidOid when neither has it.
void lookup(const char *name, const char *caller_path, Oid *typid, int32 *typmod) {
	parseTypeString(name, typid, typmod, true);
	if (OidIsValid(*typid) || !caller_path[0])
		return;
	int level = NewGUCNestLevel();
	set_config_option("search_path", caller_path, PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
	parseTypeString(name, typid, typmod, true);
	AtEOXact_GUC(false, level);
}

} // namespace

void resolve_archived_type(const std::string &name, Oid *typid, int32 *typmod) {
	const char *n = name.c_str(), *path = caller_search_path().c_str();
	pg_call([=] { lookup(n, path, typid, typmod); });
	if (!OidIsValid(*typid))
		throw SqlError(ERRCODE_UNDEFINED_OBJECT, "type \"" + name + "\" of the archive does not exist");
}

std::string current_name_of_archived_type(const std::string &name) {
	const char *n = name.c_str(), *path = caller_search_path().c_str();
	const char *current = pg_eval([=]() -> const char * {
		Oid typid = InvalidOid;
		int32 typmod = -1;
		lookup(n, path, &typid, &typmod);
		return OidIsValid(typid) ? format_type_with_typemod(typid, typmod) : nullptr;
	});
	return current ? std::string(current) : name;
}

} // namespace tb::pg
