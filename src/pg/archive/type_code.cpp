#include "pg/archive/type_code.hpp"

extern "C" {
#include "access/htup_details.h"
#include "utils/syscache.h"
#include "utils/typcache.h"
#include "catalog/pg_proc.h"
#include "parser/parse_coerce.h"
}

namespace tb::pg {

namespace {

// Composites cannot contain themselves, and arrays, ranges and domains nest finitely; the
// bound only guards against a catalog we do not expect.
constexpr int kMaxDepth = 64;

Oid type_owner(Oid type);

// The owners, other than superusers, of the domains a value of `type` reaches (through arrays,
// ranges, composites and domains over domains): their CHECK constraints are their code.
void find_domain_owners(Oid type, int depth, Oid *owner, bool *several) {
	if (depth > kMaxDepth) {
		*several = true; // a catalog we do not expect: refuse rather than guess
		return;
	}
	switch (get_typtype(type)) {
	case TYPTYPE_DOMAIN: {
		Oid o = type_owner(type);
		if (!superuser_arg(o)) {
			*several = *several || (OidIsValid(*owner) && *owner != o);
			*owner = o;
		}
		HeapTuple tuple = SearchSysCache1(TYPEOID, ObjectIdGetDatum(type));
		if (!HeapTupleIsValid(tuple))
			elog(ERROR, "cache lookup failed for type %u", type);
		Oid base = reinterpret_cast<Form_pg_type>(GETSTRUCT(tuple))->typbasetype;
		ReleaseSysCache(tuple);
		find_domain_owners(base, depth + 1, owner, several);
		return;
	}
	case TYPTYPE_RANGE:
		find_domain_owners(get_range_subtype(type), depth + 1, owner, several);
		return;
	case TYPTYPE_MULTIRANGE:
		find_domain_owners(get_multirange_range(type), depth + 1, owner, several);
		return;
	case TYPTYPE_COMPOSITE: {
		TupleDesc desc = lookup_rowtype_tupdesc(type, -1);
		for (int i = 0; i < desc->natts; i++) {
			Form_pg_attribute a = TupleDescAttr(desc, i);
			if (!a->attisdropped)
				find_domain_owners(a->atttypid, depth + 1, owner, several);
		}
		ReleaseTupleDesc(desc);
		return;
	}
	default: {
		Oid element = get_element_type(type);
		if (OidIsValid(element))
			find_domain_owners(element, depth + 1, owner, several);
	}
	}
}

Oid type_owner(Oid type) {
	HeapTuple tuple = SearchSysCache1(TYPEOID, ObjectIdGetDatum(type));
	if (!HeapTupleIsValid(tuple))
		elog(ERROR, "cache lookup failed for type %u", type);
	Oid owner = reinterpret_cast<Form_pg_type>(GETSTRUCT(tuple))->typowner;
	ReleaseSysCache(tuple);
	return owner;
}

// As json.c's json_categorize_type: domains are looked through, arrays and composites are
// rendered element by element, and any other type that is not built-in uses its cast to json.
void find_json_casts(Oid type, int depth, Oid *owner, bool *several) {
	if (depth > kMaxDepth)
		return;
	type = getBaseType(type);
	Oid element = get_element_type(type);
	if (OidIsValid(element)) {
		find_json_casts(element, depth + 1, owner, several);
		return;
	}
	if (get_typtype(type) == TYPTYPE_COMPOSITE) {
		TupleDesc desc = lookup_rowtype_tupdesc(type, -1);
		for (int i = 0; i < desc->natts; i++) {
			Form_pg_attribute a = TupleDescAttr(desc, i);
			if (!a->attisdropped)
				find_json_casts(a->atttypid, depth + 1, owner, several);
		}
		ReleaseTupleDesc(desc);
		return;
	}
	if (type < FirstNormalObjectId)
		return;
	Oid cast_function = InvalidOid;
	if (find_coercion_pathway(JSONOID, type, COERCION_EXPLICIT, &cast_function) != COERCION_PATH_FUNC ||
	    !OidIsValid(cast_function))
		return;
	HeapTuple tuple = SearchSysCache1(PROCOID, ObjectIdGetDatum(cast_function));
	if (!HeapTupleIsValid(tuple))
		elog(ERROR, "cache lookup failed for function %u", cast_function);
	Oid function_owner = reinterpret_cast<Form_pg_proc>(GETSTRUCT(tuple))->proowner;
	ReleaseSysCache(tuple);
	if (superuser_arg(function_owner))
		return;
	if (OidIsValid(*owner) && *owner != function_owner)
		*several = true;
	*owner = function_owner;
}

} // namespace

Oid json_cast_owner(Oid type, bool *several) {
	Oid owner = InvalidOid;
	find_json_casts(type, 0, &owner, several);
	return owner;
}

Oid decoding_type(Oid type, int32 *typmod) {
	return getBaseTypeAndTypmod(type, typmod);
}

Oid code_owner(Oid type) {
	Oid owner = InvalidOid;
	bool several = false;
	find_domain_owners(type, 0, &owner, &several);
	if (several)
		ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
		                errmsg("type %s reaches domains of several roles", format_type_be(type)),
		                errdetail("Decoding its values would run CHECK constraints of more than one role.")));
	return owner;
}

} // namespace tb::pg
