#!/usr/bin/env bash
# The invariants docs/ARCHITECTURE.md states about the C++/PostgreSQL boundary, checked on the
# source (run by scripts/test.sh; exits non-zero naming each violation):
#   1. src/core includes no PostgreSQL header and nothing of src/pg;
#   2. every .cpp file of src/core includes core/cpp_only.hpp after its other includes;
#   3. every SQL-callable C function is defined with TB_SQL_FUNCTION (PG_FUNCTION_INFO_V1 appears
#      nowhere else), so every one of them runs inside the entry guard;
#   4. every SQL function is defined in src/pg/functions/, and every .cpp file there defines at
#      least one: that folder is the whole SQL surface, so reading it reviews every entry point.
set -uo pipefail
cd "$(dirname "$0")/.."
bad=0
fail() { echo "boundary: $*"; bad=1; }

pg_headers='postgres\.h|postgres_ext\.h|fmgr\.h|funcapi\.h|miscadmin\.h|(access|catalog|commands|executor|nodes|parser|storage|utils|tcop|lib|libpq|postmaster|replication)/'
while IFS= read -r hit; do fail "src/core must not include PostgreSQL or src/pg: $hit"; done < <(
	grep -rnE "^[[:space:]]*#[[:space:]]*include[[:space:]]*[<\"]($pg_headers|pg/)" src/core)

for f in $(find src/core -name '*.cpp' | sort); do
	last=$(grep -n '^#include' "$f" | tail -n 1 | cut -d: -f2-)
	case "$last" in
	*'"core/cpp_only.hpp"'*) ;;
	*) fail "$f: core/cpp_only.hpp must be its last include" ;;
	esac
done

while IFS= read -r hit; do fail "PG_FUNCTION_INFO_V1 outside TB_SQL_FUNCTION: $hit"; done < <(
	grep -rn 'PG_FUNCTION_INFO_V1' src | grep -v '^src/pg/boundary/guard.hpp:')

while IFS= read -r f; do fail "$f defines a SQL function outside src/pg/functions/"; done < <(
	grep -rlE '^[[:space:]]*TB_SQL_FUNCTION\(' src | grep -v '^src/pg/functions/')
for f in $(find src/pg/functions -name '*.cpp' | sort); do
	grep -qE '^[[:space:]]*TB_SQL_FUNCTION\(' "$f" || fail "$f is in src/pg/functions/ but defines no SQL function"
done

if [ "$bad" -eq 0 ]; then
	echo "boundaries: src/core is PostgreSQL-free, cpp_only.hpp last in $(find src/core -name '*.cpp' | wc -l) files," \
		"$(grep -rho 'TB_SQL_FUNCTION([a-z_]*)' src/pg | sort -u | wc -l) SQL functions behind the entry guard," \
		"all in src/pg/functions/ ($(find src/pg/functions -name '*.cpp' | wc -l) files)"
fi
exit "$bad"
