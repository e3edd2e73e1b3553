// Foreign keys as the catalog describes them, with the constraint's own equality operators.
#include "pg/catalog/foreign_key_catalog.hpp"

#include "pg/boundary/guard.hpp"
#include "pg/boundary/spi.hpp"

namespace tb::pg {

std::string scan_of(char relkind, const std::string &name) {
	return (relkind == RELKIND_PARTITIONED_TABLE ? "" : "ONLY ") + name;
}

std::string join_each(const std::vector<std::string> &items, const std::string &sep,
                      const std::function<std::string(size_t)> &fn) {
	std::string out;
	for (size_t i = 0; i < items.size(); i++)
		out += (i ? sep : "") + fn(i);
	return out;
}

// Foreign keys (top-level constraints only: partitions inherit theirs) matching `where`.
std::vector<ForeignKey> load_foreign_keys(const std::string &where) {
	std::string sql = "SELECT c.oid, c.conrelid, c.confrelid, c.conname::pg_catalog.text, "
	                  "  c.conrelid::pg_catalog.regclass::pg_catalog.text, "
	                  "  c.confrelid::pg_catalog.regclass::pg_catalog.text, ch.relkind::pg_catalog.text, "
	                  "  pa.relkind::pg_catalog.text "
	                  "FROM pg_catalog.pg_constraint c "
	                  "JOIN pg_catalog.pg_class ch ON ch.oid OPERATOR(pg_catalog.=) c.conrelid "
	                  "JOIN pg_catalog.pg_class pa ON pa.oid OPERATOR(pg_catalog.=) c.confrelid "
	                  "WHERE c.contype OPERATOR(pg_catalog.=) 'f' AND c.conparentid OPERATOR(pg_catalog.=) 0 AND (" +
	                  where + ") ORDER BY c.conname, c.oid";
	const char *q = sql.c_str();
	uint64 rows = pg_eval([q] { return spi_run(q, SqlParams::none(), true, SPI_OK_SELECT); });
	std::vector<ForeignKey> fks;
	for (uint64 r = 0; r < rows; r++) {
		Oid oids[3];
		char *text[5];
		pg_call([&] {
			bool isnull;
			for (int i = 0; i < 3; i++)
				oids[i] = DatumGetObjectId(spi_datum(r, i + 1, &isnull));
			for (int i = 0; i < 5; i++)
				text[i] = spi_text(r, i + 4);
		});
		fks.push_back({oids[0], oids[1], oids[2], text[0], text[1], text[2], text[3][0], text[4][0], {}, {}, {}, {}});
	}
	for (auto &fk : fks) {
		Oid con = fk.oid;
		SqlParams of_con = SqlParams().oid(con);
		uint64 cols = pg_eval([&] {
			// The key's own equality operators (conpfeqop), as the constraint's triggers use them.
			return spi_run("SELECT pg_catalog.quote_ident(ca.attname), pg_catalog.quote_ident(pa.attname), "
			               "  pa.attname::pg_catalog.text, ca.attname::pg_catalog.text, "
			               "  ' OPERATOR(' OPERATOR(pg_catalog.||) pg_catalog.quote_ident(n.nspname) "
			               "    OPERATOR(pg_catalog.||) '.' OPERATOR(pg_catalog.||) o.oprname "
			               "    OPERATOR(pg_catalog.||) ') ', "
			               // A key column whose type reaches the operator only through a cast function of a
			               // role that is not a superuser: the probe would run that role's code.
			               "  EXISTS (SELECT 1 FROM pg_catalog.pg_cast x "
			               "    JOIN pg_catalog.pg_proc p ON p.oid OPERATOR(pg_catalog.=) x.castfunc "
			               "    JOIN pg_catalog.pg_roles r ON r.oid OPERATOR(pg_catalog.=) p.proowner "
			               "    WHERE x.castmethod OPERATOR(pg_catalog.=) 'f' AND NOT r.rolsuper AND ("
			               "      (x.castsource OPERATOR(pg_catalog.=) ca.atttypid "
			               "       AND x.casttarget OPERATOR(pg_catalog.=) o.oprright) OR "
			               "      (x.castsource OPERATOR(pg_catalog.=) pa.atttypid "
			               "       AND x.casttarget OPERATOR(pg_catalog.=) o.oprleft)))::pg_catalog.text "
			               "FROM pg_catalog.pg_constraint c "
			               "CROSS JOIN LATERAL ROWS FROM (pg_catalog.unnest(c.conkey), pg_catalog.unnest(c.confkey), "
			               "  pg_catalog.unnest(c.conpfeqop)) WITH ORDINALITY k(ck, pk, op, i) "
			               "JOIN pg_catalog.pg_attribute ca ON ca.attrelid OPERATOR(pg_catalog.=) c.conrelid "
			               "  AND ca.attnum OPERATOR(pg_catalog.=) k.ck "
			               "JOIN pg_catalog.pg_attribute pa ON pa.attrelid OPERATOR(pg_catalog.=) c.confrelid "
			               "  AND pa.attnum OPERATOR(pg_catalog.=) k.pk "
			               "JOIN pg_catalog.pg_operator o ON o.oid OPERATOR(pg_catalog.=) k.op "
			               "JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) o.oprnamespace "
			               "WHERE c.oid OPERATOR(pg_catalog.=) $1 ORDER BY k.i",
			               of_con, true, SPI_OK_SELECT);
		});
		for (uint64 r = 0; r < cols; r++) {
			char *c[6];
			pg_call([&] {
				for (int i = 0; i < 6; i++)
					c[i] = spi_text(r, i + 1);
			});
			if (c[5][0] == 't')
				throw SqlError(ERRCODE_FEATURE_NOT_SUPPORTED,
				               "foreign key constraint \"" + fk.name + "\" on table " + fk.child_name +
				                   " compares its key through a cast written by a role that is not a superuser",
				               "Checking it after a restore would run that role's cast function.",
				               "Give the key columns the same type on both sides.");
			fk.child_cols.emplace_back(c[0]);
			fk.parent_cols.emplace_back(c[1]);
			fk.parent_raw.emplace_back(c[2]);
			fk.child_raw.emplace_back(c[3]);
			fk.equals.emplace_back(c[4]);
		}
	}
	return fks;
}

// "pa.a = ch.x AND pa.b = ch.y" with the constraint's own equality operators.
std::string key_match(const ForeignKey &fk, const std::string &parent_alias, const std::string &child_alias,
                      const std::vector<std::string> &child_cols) {
	return join_each(fk.child_cols, " AND ", [&](size_t i) {
		return parent_alias + "." + fk.parent_cols[i] + fk.equals[i] + child_alias + "." + child_cols[i];
	});
}

} // namespace tb::pg
