#include "pg/archive/tuple_encoding.hpp"

extern "C" {
#include "libpq/pqformat.h"
}

namespace tb::pg {

FmgrInfo *send_functions_for(TupleDesc desc) {
	auto *send_functions = static_cast<FmgrInfo *>(palloc0(sizeof(FmgrInfo) * desc->natts));
	for (int i = 0; i < desc->natts; i++) {
		Oid send;
		bool varlena;
		getTypeBinaryOutputInfo(TupleDescAttr(desc, i)->atttypid, &send, &varlena);
		fmgr_info(send, &send_functions[i]);
	}
	return send_functions;
}

// Same bytes as COPY ... TO (FORMAT binary) writes for a tuple.
void append_copy_tuple(StringInfo out, TupleTableSlot *slot, FmgrInfo *send_functions, int natts) {
	slot_getallattrs(slot);
	uint16 count = pg_hton16(static_cast<uint16>(natts));
	appendBinaryStringInfo(out, reinterpret_cast<const char *>(&count), 2);
	for (int i = 0; i < natts; i++) {
		if (slot->tts_isnull[i]) {
			uint32 minus_one = pg_hton32(static_cast<uint32>(-1));
			appendBinaryStringInfo(out, reinterpret_cast<const char *>(&minus_one), 4);
			continue;
		}
		bytea *bytes = SendFunctionCall(&send_functions[i], slot->tts_values[i]);
		uint32 len = pg_hton32(static_cast<uint32>(VARSIZE(bytes) - VARHDRSZ));
		appendBinaryStringInfo(out, reinterpret_cast<const char *>(&len), 4);
		appendBinaryStringInfo(out, VARDATA(bytes), VARSIZE(bytes) - VARHDRSZ);
	}
}

} // namespace tb::pg
