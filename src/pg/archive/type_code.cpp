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

bool contains_domain(Oid type, int depth) {
	if (depth > kMaxDepth)
		return true; // unknown: treat as code of the type's owner
	switch (get_typtype(type)) {
	case TYPTYPE_DOMAIN:
		return true;
	case TYPTYPE_RANGE:
		return contains_domain(get_range_subtype(type), depth + 1);
	case TYPTYPE_MULTIRANGE:
		return contains_domain(get_multirange_range(type), depth + 1);
	case TYPTYPE_COMPOSITE: {
		TupleDesc desc = lookup_rowtype_tupdesc(type, -1);
		bool found = false;
		for (int i = 0; i < desc->natts && !found; i++) {
			Form_pg_attribute a = TupleDescAttr(desc, i);
			found = !a->attisdropped && contains_domain(a->atttypid, depth + 1);
		}
		ReleaseTupleDesc(desc);
		return found;
	}
	default: {
		Oid element = get_element_type(type);
		return OidIsValid(element) && contains_domain(element, depth + 1);
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
	if (!contains_domain(type, 0))
		return InvalidOid;
	Oid owner = type_owner(type);
	return superuser_arg(owner) ? InvalidOid : owner;
}

} // namespace tb::pg
