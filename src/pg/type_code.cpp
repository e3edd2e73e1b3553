#include "pg/type_code.hpp"

extern "C" {
#include "access/htup_details.h"
#include "utils/syscache.h"
#include "utils/typcache.h"
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

} // namespace

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
