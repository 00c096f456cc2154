import type { Person } from "../../core/jobs/types.ts";

/**
 * The person behind a studio request. The page asks for a name once and keeps it in
 * localStorage; this is attribution, not authentication, which is why the studio binds to
 * 127.0.0.1 by default. Whitespace becomes "-" in the id so it can be listed in GEMS_ADMINS
 * (person ids there are `surface:id` without spaces).
 */
export function webPerson(name: string): Person {
  return { id: `web:${name.trim().toLowerCase().replace(/\s+/g, "-")}`, name: name.trim() };
}
