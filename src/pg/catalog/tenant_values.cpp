// Tenant values: the text a caller gives, converted to the tenant columns' types, and the one
// spelling under which the catalog (backups, grants, keys, schedules, locks) records a tenant.
//
// Only the built-in input and output functions of the supported tenant types are ever called:
// a domain's input function would run its CHECK constraints, functions of whoever owns the
// domain, with the caller's privileges (a superuser's, when one grants or forgets).
#include "pg/catalog/tenant_tables.hpp"

#include "pg/boundary/guard.hpp"
#include "pg/boundary/subtransaction.hpp"

#include <algorithm>
#include <cctype>
#include <optional>

namespace tb::pg {

bool supported_tenant_type(Oid type) {
	switch (type) {
	case INT2OID:
	case INT4OID:
	case INT8OID:
	case TEXTOID:
	case VARCHAROID:
	case UUIDOID:
		return true;
	default:
		return false;
	}
}

namespace {

// Throws the clear error for a tenant column whose type we do not convert values to.
void require_supported(Oid type, const std::string &column, const std::string &table) {
	if (supported_tenant_type(type))
		return;
	char kind = pg_eval([type] { return get_typtype(type); });
	if (kind == TYPTYPE_DOMAIN) {
		std::string domain = pg_eval([type] { return static_cast<const char *>(format_type_be(type)); });
		std::string base = pg_eval([type] { return static_cast<const char *>(format_type_be(getBaseType(type))); });
		throw SqlError(ERRCODE_DATATYPE_MISMATCH,
		               "tenant column \"" + column + "\" of table " + table + " has domain type " + domain +
		                   ", which is not supported as a tenant column type",
		               "Tenant values are converted only by the built-in types' own functions: a domain's "
		               "constraints would run with the caller's privileges.",
		               "Give the column its base type " + base +
		                   ", or exclude the table with tenant_backup.backup_exclude_table().");
	}
	check_tenant_type(type, column, table); // throws: not one of the supported types
}

// Plain PostgreSQL calls (for pg_call); `type` is a supported (built-in) type, so its
// input and output functions are the core's own.
Datum parse_as(Oid type, const char *value) {
	Oid input, ioparam;
	getTypeInputInfo(type, &input, &ioparam);
	return OidInputFunctionCall(input, const_cast<char *>(value), ioparam, -1);
}

const char *print_as(Oid type, Datum value) {
	Oid output;
	bool varlena;
	getTypeOutputInfo(type, &output, &varlena);
	return OidOutputFunctionCall(output, value);
}

// One supported tenant column type and the first table that has it, for error messages.
struct TenantType {
	Oid type;
	std::string table;
};

// The distinct supported tenant column types of the tables, in table order. Tables of other
// types are left out here: backup_create refuses them (tenant_values), and a lookup must not
// fail because of a table nobody can back up.
std::vector<TenantType> tenant_types(const std::vector<TenantTable> &tables) {
	std::vector<TenantType> types;
	for (const auto &t : tables) {
		if (!supported_tenant_type(t.tenant_type))
			continue;
		if (std::none_of(types.begin(), types.end(), [&](const TenantType &k) { return k.type == t.tenant_type; }))
			types.push_back({t.tenant_type, t.display_name()});
	}
	return types;
}

// How `type` prints each value, nullopt for values it does not take. One subtransaction for
// all values when they all cast (the usual case), one per value otherwise.
std::vector<std::optional<std::string>> printed_forms(Oid type, const std::vector<std::string> &values) {
	std::vector<const char *> in, out(values.size());
	for (const auto &v : values)
		in.push_back(v.c_str());
	bool all = !in_subtransaction([&] {
		pg_call([&] {
			for (size_t i = 0; i < in.size(); i++)
				out[i] = print_as(type, parse_as(type, in[i]));
		});
	});
	std::vector<std::optional<std::string>> forms;
	for (size_t i = 0; i < values.size(); i++) {
		if (all) {
			forms.emplace_back(out[i]);
			continue;
		}
		const char *value = in[i], *printed = nullptr;
		bool cast = !in_subtransaction([&] { pg_call([&] { printed = print_as(type, parse_as(type, value)); }); });
		forms.push_back(cast ? std::optional<std::string>(printed) : std::nullopt);
	}
	return forms;
}

bool is_text_type(Oid type) {
	return type == TEXTOID || type == VARCHAROID;
}

std::string type_name(Oid type) {
	return pg_eval([type] { return static_cast<const char *>(format_type_be(type)); });
}

// THE rule for a tenant's catalog spelling: the form in which every tenant column type that takes
// the value prints it alike (' 7' -> '7' for integer columns, upper-case uuids -> lower case).
// When two types print it differently ('07' is 7 for an integer column, '07' for a text one),
// the value would name two different tenants at once: refused. A value that no type takes is
// kept as given (lookups of it then find nothing). forms[i] is how types[i] prints `tenant`.
std::string agreed_spelling(const std::string &tenant, const std::vector<TenantType> &types,
                            const std::vector<std::optional<std::string>> &forms) {
	std::optional<size_t> first;
	for (size_t i = 0; i < types.size(); i++) {
		if (!forms[i])
			continue;
		if (!first) {
			first = i;
			continue;
		}
		if (*forms[i] == *forms[*first])
			continue;
		// Text types keep a value as given: the canonical spelling is the other type's form.
		size_t canonical = is_text_type(types[*first].type) ? i : *first;
		throw SqlError(
		    ERRCODE_INVALID_PARAMETER_VALUE,
		    "tenant value \"" + tenant + "\" names different tenants in tables " + types[*first].table + " and " +
		        types[i].table,
		    "As " + type_name(types[*first].type) + " (table " + types[*first].table + ") it is \"" + *forms[*first] +
		        "\", as " + type_name(types[i].type) + " (table " + types[i].table + ") it is \"" + *forms[i] + "\".",
		    "Use the canonical spelling \"" + *forms[canonical] + "\", which every tenant column type prints alike.");
	}
	return first ? *forms[*first] : tenant;
}

// agreed_spelling of each value; with `refuse` false, a refused value is kept as given.
std::vector<std::string> agreed_spellings(const std::vector<std::string> &tenants,
                                          const std::vector<TenantTable> &tables, bool refuse) {
	std::vector<TenantType> types = tenant_types(tables);
	if (types.empty() || tenants.empty())
		return tenants;
	std::vector<std::vector<std::optional<std::string>>> by_type;
	for (const auto &k : types)
		by_type.push_back(printed_forms(k.type, tenants));
	std::vector<std::string> out;
	for (size_t v = 0; v < tenants.size(); v++) {
		std::vector<std::optional<std::string>> forms;
		for (const auto &f : by_type)
			forms.push_back(f[v]);
		try {
			out.push_back(agreed_spelling(tenants[v], types, forms));
		} catch (const SqlError &) {
			if (refuse)
				throw;
			out.push_back(tenants[v]);
		}
	}
	return out;
}

// A cheap over-approximation of "same value": the hex digits, lower case, without leading zeros,
// which every spelling of one integer or uuid shares (' +007' and '7'; '{A0EE...}' and 'a0ee...').
std::string digits_signature(const std::string &s) {
	std::string sig;
	for (char c : s) {
		char l = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
		if (std::isxdigit(static_cast<unsigned char>(l)) && !(sig.empty() && l == '0'))
			sig += l;
	}
	return sig;
}

} // namespace

Datum tenant_datum(const std::string &tenant, Oid type, const std::string &column, const std::string &table) {
	require_supported(type, column, table);
	// Named before the attempt: after a caught PostgreSQL error nothing may call PostgreSQL
	// until the transaction has aborted (guard.hpp), so the error is only copied into ours.
	std::string name = type_name(type);
	const char *value = tenant.c_str();
	try {
		return pg_eval([&] { return parse_as(type, value); });
	} catch (const PgError &e) {
		throw SqlError(ERRCODE_INVALID_TEXT_REPRESENTATION,
		               "tenant value \"" + tenant + "\" is not a valid " + name + " for tenant column \"" + column +
		                   "\" of table " + table,
		               e.what());
	}
}

std::vector<Datum> tenant_values(const std::string &tenant, const std::vector<TenantTable> &tables) {
	std::vector<Datum> values;
	for (const auto &t : tables)
		values.push_back(tenant_datum(tenant, t.tenant_type, t.tenant_value_column(), t.display_name()));
	return values;
}

std::string canonical_tenant(const std::string &tenant, const std::vector<TenantTable> &tables,
                             const std::vector<Datum> &values) {
	// Every table's type took the value (tenant_values): print it once per distinct type.
	std::vector<TenantType> types = tenant_types(tables);
	std::vector<std::optional<std::string>> forms;
	for (const auto &k : types) {
		size_t i = 0;
		while (tables[i].tenant_type != k.type)
			i++;
		Oid type = k.type;
		Datum value = values[i];
		forms.emplace_back(pg_eval([type, value] { return print_as(type, value); }));
	}
	return agreed_spelling(tenant, types, forms);
}

std::string stored_tenant(const std::string &tenant) {
	return agreed_spellings({tenant}, load_tenant_tables(), true).at(0);
}

std::string lookup_tenant(const std::string &tenant) {
	return agreed_spellings({tenant}, load_tenant_tables(), false).at(0);
}

std::vector<std::string> stored_tenants(const std::vector<std::string> &tenants) {
	return agreed_spellings(tenants, load_tenant_tables(), false);
}

std::vector<std::string> tenant_spellings(const std::string &tenant, const std::vector<std::string> &recorded) {
	std::vector<std::string> same;
	std::vector<std::string> candidates;
	std::string signature = digits_signature(tenant);
	for (const auto &r : recorded) {
		if (r == tenant)
			same.push_back(r);
		else if (digits_signature(r) == signature)
			candidates.push_back(r);
	}
	if (candidates.empty())
		return same;
	std::vector<std::string> both = candidates;
	both.push_back(tenant);
	for (const auto &k : tenant_types(load_tenant_tables())) {
		if (is_text_type(k.type))
			continue; // text keeps every spelling apart
		std::vector<std::optional<std::string>> forms = printed_forms(k.type, both);
		const std::optional<std::string> &own = forms.back();
		if (!own)
			continue;
		for (size_t i = 0; i < candidates.size(); i++)
			if (forms[i] == own && std::find(same.begin(), same.end(), candidates[i]) == same.end())
				same.push_back(candidates[i]);
	}
	return same;
}

} // namespace tb::pg
