#include "pg/archive/restore_request.hpp"

#include "pg/boundary/spi.hpp"
#include "pg/catalog/catalog.hpp"

namespace tb::pg {

std::string restore_request_json(const RestoreRequest &request) {
	const RestoreOptions &o = request.options;
	std::string json = std::string("{\"dry_run\": ") + (request.dry_run ? "true" : "false") +
	                   ", \"pre_restore_backup\": " +
	                   (!o.pre_restore   ? "null"
	                    : *o.pre_restore ? "true"
	                                     : "false") +
	                   ", \"mode\": " + (o.missing ? "\"missing\"" : "\"exact\"");
	if (o.tables) {
		std::string names;
		for (const auto &name : *o.tables)
			names += (names.empty() ? "" : ", ") + quote_json(name);
		json += ", \"tables\": [" + names + "]";
	}
	if (o.rows)
		json += ", \"rows\": " + *o.rows; // jsonb's own text
	return json + "}";
}

RestoreRequest restore_request_from_json(const std::optional<std::string> &options, bool strict) {
	RestoreRequest request;
	request.options.strict = strict;
	if (!options)
		return request;
	// Read by jsonb's own functions: the text is a value, never SQL.
	SqlRow row = spi_query("SELECT coalesce((o->>'dry_run')::pg_catalog.bool, false)::pg_catalog.text, "
	                       "(o->>'pre_restore_backup')::pg_catalog.bool::pg_catalog.text, "
	                       "coalesce(o->>'mode', 'exact'), "
	                       "(pg_catalog.jsonb_typeof(o->'tables') OPERATOR(pg_catalog.=) 'array')::pg_catalog.text, "
	                       "(o->'rows')::pg_catalog.text "
	                       "FROM (SELECT $1::pg_catalog.jsonb AS o) s",
	                       {options})
	                 .at(0);
	request.dry_run = *row[0] == "true";
	if (row[1])
		request.options.pre_restore = *row[1] == "true";
	request.options.missing = *row[2] == "missing";
	if (row[3] && *row[3] == "true") {
		request.options.tables.emplace();
		for (const auto &name :
		     spi_query("SELECT pg_catalog.jsonb_array_elements_text($1::pg_catalog.jsonb->'tables')", {options}))
			request.options.tables->insert(*name[0]);
	}
	if (row[4]) // absent: NULL (a JSON null stays one, as the call would pass it on)
		request.options.rows = *row[4];
	return request;
}

} // namespace tb::pg
