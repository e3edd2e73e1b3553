#include "pg/archive/tuple_encoding.hpp"

extern "C" {
#include "libpq/pqformat.h"
#include "mb/pg_wchar.h"
#include "utils/fmgroids.h"
}

namespace tb::pg {

namespace {

// The bytes of the by-value integers (and floats' bit patterns) these send functions write.
int8 fixed_width(Oid send) {
	switch (send) {
	case F_BOOLSEND:
		return 1;
	case F_INT2SEND:
		return 2;
	case F_INT4SEND:
	case F_OIDSEND:
	case F_DATE_SEND:
	case F_FLOAT4SEND:
		return 4;
	case F_INT8SEND:
	case F_TIMESTAMP_SEND:
	case F_TIMESTAMPTZ_SEND:
	case F_FLOAT8SEND:
		return 8;
	default:
		return 0;
	}
}

void append_be(StringInfo out, uint64 v, int width) {
	char bytes[8];
	for (int i = 0; i < width; i++)
		bytes[i] = static_cast<char>(v >> (8 * (width - 1 - i)));
	appendBinaryStringInfo(out, bytes, width);
}

// pq_sendfloat4/8's bits of a float
uint64 float4_bits(float4 f) {
	uint32 bits;
	memcpy(&bits, &f, sizeof bits);
	return bits;
}
uint64 float8_bits(float8 f) {
	uint64 bits;
	memcpy(&bits, &f, sizeof bits);
	return bits;
}

void append_length(StringInfo out, int32 len) {
	append_be(out, static_cast<uint32>(len), 4);
}

} // namespace

ColumnSender *column_senders_for(TupleDesc desc) {
	auto *senders = static_cast<ColumnSender *>(palloc0(sizeof(ColumnSender) * desc->natts));
	bool same_encoding = pg_get_client_encoding() == GetDatabaseEncoding();
	for (int i = 0; i < desc->natts; i++) {
		Oid send;
		bool varlena;
		getTypeBinaryOutputInfo(TupleDescAttr(desc, i)->atttypid, &send, &varlena);
		fmgr_info(send, &senders[i].send);
		senders[i].width = fixed_width(send);
		// textsend converts to the client encoding; byteasend writes the bytes as they are
		senders[i].bytes = send == F_BYTEASEND ||
		                   (same_encoding && (send == F_TEXTSEND || send == F_VARCHARSEND || send == F_BPCHARSEND));
	}
	return senders;
}

// Same bytes as COPY ... TO (FORMAT binary) writes for a tuple.
void append_copy_tuple(StringInfo out, TupleTableSlot *slot, const ColumnSender *senders, int natts) {
	slot_getallattrs(slot);
	append_be(out, static_cast<uint16>(natts), 2);
	for (int i = 0; i < natts; i++) {
		Datum value = slot->tts_values[i];
		const ColumnSender &s = senders[i];
		if (slot->tts_isnull[i]) {
			append_length(out, -1);
		} else if (s.width) {
			// DatumGet* of each width: bool as 0/1 (boolsend), floats by their bit patterns
			uint64 v;
			switch (s.width) {
			case 1:
				v = DatumGetBool(value) ? 1 : 0;
				break;
			case 2:
				v = static_cast<uint16>(DatumGetInt16(value));
				break;
			case 4:
				v = s.send.fn_oid == F_FLOAT4SEND ? float4_bits(DatumGetFloat4(value))
				                                  : static_cast<uint32>(DatumGetInt32(value));
				break;
			default:
				v = s.send.fn_oid == F_FLOAT8SEND ? float8_bits(DatumGetFloat8(value))
				                                  : static_cast<uint64>(DatumGetInt64(value));
			}
			append_length(out, s.width);
			append_be(out, v, s.width);
		} else if (s.bytes) {
			struct varlena *v = pg_detoast_datum_packed(reinterpret_cast<struct varlena *>(DatumGetPointer(value)));
			append_length(out, static_cast<int32>(VARSIZE_ANY_EXHDR(v)));
			appendBinaryStringInfo(out, VARDATA_ANY(v), static_cast<int>(VARSIZE_ANY_EXHDR(v)));
		} else {
			bytea *bytes = SendFunctionCall(const_cast<FmgrInfo *>(&s.send), value);
			append_length(out, static_cast<int32>(VARSIZE(bytes) - VARHDRSZ));
			appendBinaryStringInfo(out, VARDATA(bytes), static_cast<int>(VARSIZE(bytes) - VARHDRSZ));
		}
	}
}

} // namespace tb::pg
