#include "pg/catalog/read_privileges.hpp"

#include "pg/catalog/audit.hpp"
#include "pg/boundary/guard.hpp"
#include "pg/catalog/permissions.hpp"
#include "pg/boundary/spi.hpp"

#include <algorithm>

extern "C" {
#include "utils/acl.h"
#include "utils/rls.h"
}

namespace tb::pg {

std::vector<ArchivedTable> catalog_tables(int64 id) {
	AsExtensionOwner owner; // the catalog is the extension's own
	std::vector<SqlRow> rows =
	    spi_query("SELECT t.value OPERATOR(pg_catalog.->>) 'schema', t.value OPERATOR(pg_catalog.->>) 'name', "
	              "  c.value OPERATOR(pg_catalog.->>) 'name' "
	              "FROM tenant_backup.backups b "
	              "CROSS JOIN LATERAL pg_catalog.jsonb_array_elements(b.tables) WITH ORDINALITY t "
	              "LEFT JOIN LATERAL pg_catalog.jsonb_array_elements(t.value OPERATOR(pg_catalog.->) 'columns') "
	              "  WITH ORDINALITY c ON true "
	              "WHERE b.id OPERATOR(pg_catalog.=) $1::bigint ORDER BY t.ordinality, c.ordinality",
	              {std::to_string(id)}, true);
	std::vector<ArchivedTable> tables;
	for (const auto &row : rows) {
		std::string schema = row[0].value_or(""), name = row[1].value_or("");
		if (tables.empty() || tables.back().schema != schema || tables.back().name != name)
			tables.push_back({schema, name, {}});
		if (row[2])
			tables.back().columns.push_back(*row[2]);
	}
	return tables;
}

namespace {

// What of the table the current user may not read, as palloc'd text ("" when all of it).
const char *unreadable_parts(const ArchivedTable &t) {
	const char *schema = t.schema.c_str(), *name = t.name.c_str();
	std::vector<const char *> columns;
	for (const auto &c : t.columns)
		columns.push_back(c.c_str());
	int ncolumns = static_cast<int>(columns.size());
	const char *const *column = columns.data();
	return pg_eval([=] {
		StringInfoData buf;
		initStringInfo(&buf);
		Oid user = GetUserId();
		Oid nsp = get_namespace_oid(schema, true);
		Oid relid = OidIsValid(nsp) ? get_relname_relid(name, nsp) : InvalidOid;
		if (!OidIsValid(relid)) {
			// Privileges of a table that is gone cannot be checked: only backup admins download it.
			appendStringInfo(&buf, "table %s.%s (no longer exists)", schema, name);
			return static_cast<const char *>(buf.data);
		}
		if (pg_namespace_aclcheck(nsp, user, ACL_USAGE) != ACLCHECK_OK)
			appendStringInfo(&buf, "schema %s (no USAGE privilege)", schema);
		if (pg_class_aclcheck(relid, user, ACL_SELECT) != ACLCHECK_OK) {
			StringInfoData cols;
			initStringInfo(&cols);
			int denied = 0;
			for (int i = 0; i < ncolumns; i++) {
				AttrNumber attnum = get_attnum(relid, column[i]);
				const char *why = nullptr;
				if (attnum == InvalidAttrNumber)
					why = "no longer exists";
				else if (pg_attribute_aclcheck(relid, attnum, user, ACL_SELECT) != ACLCHECK_OK)
					why = "no SELECT privilege";
				if (why) {
					appendStringInfo(&cols, "%scolumn %s.%s.%s (%s)", cols.len ? ", " : "", schema, name, column[i],
					                 why);
					denied++;
				}
			}
			if (denied == ncolumns) // nothing of it is readable: name the table, not each column
				appendStringInfo(&buf, "%stable %s.%s (no SELECT privilege)", buf.len ? ", " : "", schema, name);
			else if (denied > 0)
				appendStringInfo(&buf, "%s%s", buf.len ? ", " : "", cols.data);
		}
		if (check_enable_rls(relid, InvalidOid, true) == RLS_ENABLED)
			appendStringInfo(&buf, "%stable %s.%s (row-level security applies)", buf.len ? ", " : "", schema, name);
		return static_cast<const char *>(buf.data);
	});
}

} // namespace

bool require_read_privileges(const std::vector<ArchivedTable> &tables, int64 id, const std::string &tenant,
                             const char *action, const char *consequence) {
	Oid role = pg_eval([] { return GetUserId(); });
	if (is_backup_admin(role))
		return false;
	std::string problems;
	for (const auto &t : tables) {
		std::string p = unreadable_parts(t);
		if (!p.empty())
			problems += (problems.empty() ? "" : "; ") + p;
	}
	if (problems.empty())
		return true;
	const char *role_name = pg_eval([role] { return static_cast<const char *>(GetUserNameFromId(role, false)); });
	std::string message = "permission denied: role \"" + std::string(role_name) + "\" may not read all of backup " +
	                      std::to_string(id) + ": " + problems + "; " + consequence;
	audit_autonomously({action, tenant, id, "denied", message});
	throw SqlError(ERRCODE_INSUFFICIENT_PRIVILEGE, message, "",
	               "A backup is rendered only to roles that may SELECT every table and column in it, without "
	               "row-level security; a superuser or the extension's owner may download it.");
}

void check_header_within(const archive::TableHeader &table, const std::vector<ArchivedTable> &checked, int64 id) {
	for (const auto &t : checked) {
		if (t.schema != table.schema || t.name != table.name)
			continue;
		for (const auto &c : table.columns)
			if (std::find(t.columns.begin(), t.columns.end(), c.name) == t.columns.end())
				throw SqlError(ERRCODE_DATA_CORRUPTED, "archive of backup " + std::to_string(id) + " holds column " +
				                                           c.name + " of table " + table.schema + "." + table.name +
				                                           ", which its catalog row does not list");
		return;
	}
	throw SqlError(ERRCODE_DATA_CORRUPTED, "archive of backup " + std::to_string(id) + " holds table " + table.schema +
	                                           "." + table.name + ", which its catalog row does not list");
}

} // namespace tb::pg
