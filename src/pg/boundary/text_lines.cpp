#include "pg/boundary/text_lines.hpp"

#include "pg/boundary/guard.hpp"

#include <cstring>

namespace tb::pg {

TextLines::TextLines(FunctionCallInfo fcinfo) : fcinfo_(fcinfo) {
	pg_call([fcinfo] { InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC); });
}

void TextLines::put(const char *line) {
	if (hashing_) {
		hash_.update(reinterpret_cast<const uint8_t *>(line), std::strlen(line));
		hash_.update(reinterpret_cast<const uint8_t *>("\n"), 1);
	}
	FunctionCallInfo fcinfo = fcinfo_;
	pg_call([fcinfo, line] {
		auto *rsinfo = reinterpret_cast<ReturnSetInfo *>(fcinfo->resultinfo);
		Datum value = CStringGetTextDatum(line);
		bool isnull = false;
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, &value, &isnull);
		pfree(DatumGetPointer(value));
	});
}

void append_csv_field(StringInfo buf, const char *value) {
	bool quote = value[0] == '\0' || (value[0] == '\\' && value[1] == '.') || strpbrk(value, ",\"\r\n") != nullptr;
	if (!quote) {
		appendStringInfoString(buf, value);
		return;
	}
	appendStringInfoCharMacro(buf, '"');
	for (const char *p = value; *p; p++) {
		if (*p == '"')
			appendStringInfoCharMacro(buf, '"');
		appendStringInfoCharMacro(buf, *p);
	}
	appendStringInfoCharMacro(buf, '"');
}

char *csv_line(const FmgrInfo *output, int columns, const Datum *values, const bool *nulls) {
	StringInfoData buf;
	initStringInfo(&buf);
	for (int i = 0; i < columns; i++) {
		if (i > 0)
			appendStringInfoCharMacro(&buf, ',');
		if (!nulls[i])
			append_csv_field(&buf, OutputFunctionCall(const_cast<FmgrInfo *>(&output[i]), values[i]));
	}
	return buf.data;
}

std::vector<FmgrInfo> output_functions(const std::vector<Oid> &types) {
	std::vector<FmgrInfo> output(types.size());
	for (size_t i = 0; i < types.size(); i++) {
		FmgrInfo *f = &output[i];
		Oid type = types[i];
		pg_call([f, type] {
			Oid func;
			bool varlena;
			getTypeOutputInfo(type, &func, &varlena);
			fmgr_info(func, f);
		});
	}
	return output;
}

char *csv_header(const std::vector<std::string> &names) {
	StringInfoData buf;
	initStringInfo(&buf);
	for (size_t i = 0; i < names.size(); i++) {
		if (i > 0)
			appendStringInfoCharMacro(&buf, ',');
		append_csv_field(&buf, names[i].c_str());
	}
	return buf.data;
}

} // namespace tb::pg
