// Types whose binary receive or text input can run code of another role: domains (their CHECK
// constraints call any function) and types built of them (arrays, composites, ranges). Built-in
// and C-language types run only code a superuser installed.
#pragma once
#include "pg/boundary/pg_headers.hpp"

namespace tb::pg {

// The type to decode a value of `type` as: a domain's base type (with its typmod in *typmod), so
// that its constraints do not run; `type` itself otherwise. Plain PostgreSQL calls (for pg_call).
Oid decoding_type(Oid type, int32 *typmod);

// The role whose code decoding a value of `type` may run, or InvalidOid when it runs none but a
// superuser's: the owner of the domains it is or contains (their CHECK constraints), whoever owns
// the outer type. Raises an error when domains of several such roles are reached. Plain PostgreSQL
// calls.
Oid code_owner(Oid type);

// The role whose cast to json row_to_json would call for a value of `type` (a cast a role that is
// not a superuser wrote, for a type of its own, reached through arrays, composites and domains),
// or InvalidOid when there is none. *several is set when such casts of two roles are reached.
// Plain PostgreSQL calls.
Oid json_cast_owner(Oid type, bool *several);

} // namespace tb::pg
