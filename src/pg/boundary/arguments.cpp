#include "pg/boundary/arguments.hpp"

#include "pg/boundary/guard.hpp"

extern "C" {
#include "access/detoast.h"
}

namespace tb::pg {

std::optional<std::string> arg_text(FunctionCallInfo fcinfo, int n) {
	if (PG_ARGISNULL(n))
		return std::nullopt;
	return std::string(pg_eval([&] { return static_cast<const char *>(text_to_cstring(PG_GETARG_TEXT_PP(n))); }));
}

int64 arg_int64(FunctionCallInfo fcinfo, int n, const char *name) {
	if (PG_ARGISNULL(n))
		throw SqlError(ERRCODE_NULL_VALUE_NOT_ALLOWED, std::string(name) + " must not be NULL");
	return PG_GETARG_INT64(n);
}

std::string required_text_arg(FunctionCallInfo fcinfo, int n, const char *name, size_t max_bytes) {
	std::optional<std::string> value = arg_text(fcinfo, n);
	if (!value)
		throw SqlError(ERRCODE_NULL_VALUE_NOT_ALLOWED, std::string(name) + " must not be NULL");
	check_text_arg(*value, name, max_bytes, false);
	return *value;
}

std::optional<std::string> bounded_text_arg(FunctionCallInfo fcinfo, int n, const char *name, size_t max_bytes,
                                            bool allow_empty) {
	if (PG_ARGISNULL(n))
		return std::nullopt;
	size_t bytes = pg_eval([&] { return toast_raw_datum_size(PG_GETARG_DATUM(n)) - VARHDRSZ; });
	if (bytes > max_bytes)
		throw SqlError(ERRCODE_INVALID_PARAMETER_VALUE, std::string(name) + " is too long (" + std::to_string(bytes) +
		                                                    " bytes; at most " + std::to_string(max_bytes) + ")");
	std::optional<std::string> value = arg_text(fcinfo, n);
	check_text_arg(*value, name, max_bytes, allow_empty);
	return value;
}

void check_text_arg(const std::string &value, const char *name, size_t max_bytes, bool allow_empty) {
	if (!allow_empty && value.empty())
		throw SqlError(ERRCODE_INVALID_PARAMETER_VALUE, std::string(name) + " must not be empty");
	if (value.size() > max_bytes)
		throw SqlError(ERRCODE_INVALID_PARAMETER_VALUE, std::string(name) + " is too long (" +
		                                                    std::to_string(value.size()) + " bytes; at most " +
		                                                    std::to_string(max_bytes) + ")");
}

} // namespace tb::pg
