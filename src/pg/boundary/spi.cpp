#include "pg/boundary/spi.hpp"

#include "pg/boundary/guard.hpp"

#include <unordered_map>

namespace tb::pg {

SqlParams::SqlParams(std::initializer_list<SqlValue> texts) {
	for (const auto &t : texts)
		text(t);
}

SqlParams::SqlParams(const std::vector<SqlValue> &texts) {
	for (const auto &t : texts)
		text(t);
}

const SqlParams &SqlParams::none() {
	static const SqlParams empty;
	return empty;
}

SqlParams &SqlParams::text(const SqlValue &value) {
	params_.push_back({TEXTOID, 0, value, !value, true});
	return *this;
}

SqlParams &SqlParams::int8(int64 value) {
	return datum(INT8OID, Int64GetDatum(value));
}

SqlParams &SqlParams::int4(int32 value) {
	return datum(INT4OID, Int32GetDatum(value));
}

SqlParams &SqlParams::oid(Oid value) {
	return datum(OIDOID, ObjectIdGetDatum(value));
}

SqlParams &SqlParams::boolean(bool value) {
	return datum(BOOLOID, BoolGetDatum(value));
}

SqlParams &SqlParams::timestamptz(TimestampTz value) {
	return datum(TIMESTAMPTZOID, TimestampTzGetDatum(value));
}

SqlParams &SqlParams::datum(Oid type, Datum value) {
	params_.push_back({type, value, std::nullopt, false, false});
	return *this;
}

SqlParams &SqlParams::null(Oid type) {
	params_.push_back({type, 0, std::nullopt, true, false});
	return *this;
}

// SPI's three arrays for a SqlParams, palloc'd (PostgreSQL calls: inside pg_call).
struct SpiArgs {
	int n;
	Oid *types;
	Datum *values;
	char *nulls;
	explicit SpiArgs(const SqlParams &p) : n(p.size()) {
		types = static_cast<Oid *>(palloc(sizeof(Oid) * (n + 1)));
		values = static_cast<Datum *>(palloc(sizeof(Datum) * (n + 1)));
		nulls = static_cast<char *>(palloc(n + 1));
		for (int i = 0; i < n; i++) {
			const SqlParams::Param &param = p.params_[i];
			types[i] = param.type;
			values[i] = param.isnull ? 0 : param.is_text ? CStringGetTextDatum(param.text->c_str()) : param.value;
			nulls[i] = param.isnull ? 'n' : ' ';
		}
		nulls[n] = '\0';
	}
};

uint64 spi_run(const char *sql, const SqlParams &params, bool read_only, int expected_rc, long max_rows) {
	SpiArgs args(params);
	SPIPlanPtr plan = SPI_prepare(sql, args.n, args.types);
	if (!plan)
		elog(ERROR, "tenant_backup: could not prepare internal query (%s): %s", SPI_result_code_string(SPI_result),
		     sql);
	// Defence in depth: an internal query is exactly one statement, whatever got into its text.
	if (list_length(SPI_plan_get_plan_sources(plan)) != 1)
		elog(ERROR, "tenant_backup: internal query is not a single statement: %s", sql);
	int rc = SPI_execute_plan(plan, args.values, args.nulls, read_only, max_rows);
	if (rc != expected_rc)
		elog(ERROR, "tenant_backup: internal query failed (%s): %s", SPI_result_code_string(rc), sql);
	uint64 processed = SPI_processed;
	SPI_freeplan(plan);
	return processed;
}

char *spi_text(uint64 row, int col) {
	return SPI_getvalue(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, col);
}

Datum spi_datum(uint64 row, int col, bool *isnull) {
	return SPI_getbinval(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, col, isnull);
}

namespace {

// The plans spi_query keeps in this process once keep_query_plans() was called: by statement and
// parameter types, at most kMaxKeptPlans (statements built with values in their text are not
// worth keeping, and must not grow the process without bound).
constexpr size_t kMaxKeptPlans = 500;
bool keep_plans = false;
std::unordered_map<std::string, SPIPlanPtr> kept_plans;

// (PostgreSQL calls: inside pg_call.) The kept plan of the statement, prepared and kept at its
// first execution; nullptr when plans are not kept.
SPIPlanPtr kept_plan(const char *sql, const SpiArgs &args) {
	if (!keep_plans)
		return nullptr;
	std::string key(reinterpret_cast<const char *>(args.types), sizeof(Oid) * args.n);
	key += sql;
	auto it = kept_plans.find(key);
	if (it != kept_plans.end())
		return it->second;
	if (kept_plans.size() >= kMaxKeptPlans)
		return nullptr;
	SPIPlanPtr plan = SPI_prepare(sql, args.n, args.types);
	if (!plan)
		elog(ERROR, "tenant_backup: could not prepare internal query (%s): %s", SPI_result_code_string(SPI_result),
		     sql);
	if (SPI_keepplan(plan) != 0)
		elog(ERROR, "tenant_backup: could not keep the plan of an internal query: %s", sql);
	kept_plans.emplace(std::move(key), plan);
	return plan;
}

} // namespace

void keep_query_plans() {
	keep_plans = true;
}

std::vector<SqlRow> spi_query(const char *sql, const SqlParams &params, bool read_only) {
	// Results are copied out as palloc'd strings first: no C++ allocation while PostgreSQL runs.
	struct {
		uint64 rows;
		int cols;
		char **cells;
	} raw{};
	pg_call([&] {
		SpiArgs args(params);
		SPIPlanPtr plan = kept_plan(sql, args);
		int rc = plan ? SPI_execute_plan(plan, args.values, args.nulls, read_only, 0)
		              : SPI_execute_with_args(sql, args.n, args.types, args.values, args.nulls, read_only, 0);
		if (rc < 0)
			elog(ERROR, "tenant_backup: internal query failed (%s): %s", SPI_result_code_string(rc), sql);
		raw.rows = SPI_tuptable ? SPI_processed : 0;
		raw.cols = SPI_tuptable ? SPI_tuptable->tupdesc->natts : 0;
		raw.cells = static_cast<char **>(palloc0(sizeof(char *) * (raw.rows * raw.cols + 1)));
		for (uint64 r = 0; r < raw.rows; r++)
			for (int c = 0; c < raw.cols; c++)
				raw.cells[r * raw.cols + c] = spi_text(r, c + 1);
	});
	std::vector<SqlRow> out(raw.rows, SqlRow(raw.cols));
	for (uint64 r = 0; r < raw.rows; r++)
		for (int c = 0; c < raw.cols; c++)
			if (char *cell = raw.cells[r * raw.cols + c])
				out[r][c] = std::string(cell);
	return out;
}

std::string text_array_literal(const std::vector<SqlValue> &values) {
	std::string out = "{";
	for (size_t i = 0; i < values.size(); i++) {
		if (i)
			out += ",";
		if (!values[i]) {
			out += "NULL";
			continue;
		}
		out += "\"";
		for (char c : *values[i]) {
			if (c == '"' || c == '\\')
				out += '\\';
			out += c;
		}
		out += "\"";
	}
	return out + "}";
}

void spi_select_into(const char *sql, Oid type, Datum value, DestReceiver *dest, bool read_only) {
	Oid argtype = type;
	SPIPlanPtr plan = SPI_prepare(sql, 1, &argtype);
	if (!plan)
		elog(ERROR, "tenant_backup: could not prepare \"%s\": %s", sql, SPI_result_code_string(SPI_result));
	ParamListInfo params = makeParamList(1);
	params->numParams = 1;
	params->params[0].value = value;
	params->params[0].isnull = false;
	params->params[0].pflags = PARAM_FLAG_CONST;
	params->params[0].ptype = argtype;
	SPIExecuteOptions options;
	memset(&options, 0, sizeof(options));
	options.params = params;
	options.read_only = read_only;
	options.dest = dest;
	int rc = SPI_execute_plan_extended(plan, &options);
	// SPI reports SPI_OK_UTILITY for a SELECT whose receiver is not SPI's own (DestNone).
	if (rc != SPI_OK_SELECT && rc != SPI_OK_UTILITY)
		elog(ERROR, "tenant_backup: reading \"%s\" failed: %s", sql, SPI_result_code_string(rc));
	SPI_freeplan(plan);
}

} // namespace tb::pg
