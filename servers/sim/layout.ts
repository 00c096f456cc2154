/**
 * Places the sim's groups (all copies of one object, or a plaque of text) in a grid of cells:
 * one column per group, left to right by the horizontal relations, rows by the vertical ones.
 * Relations are applied most salient first and one that would contradict an earlier one is
 * skipped, so the drawing, not the request, decides what the verifier later sees.
 */
import type { DrawnRelation } from "./salience.ts";
import type { Box } from "./rendered-scene.ts";

export interface LayoutRelation {
  subject: string;
  relation: DrawnRelation;
  object: string;
}

export interface LayoutArea {
  width: number;
  height: number;
  /** Space kept free at the top, for the "SIM" marker. */
  top: number;
}

/** The cell of each group, keyed by id. `ids` is the order the groups were first named in. */
export function layoutCells(ids: readonly string[], allRelations: readonly LayoutRelation[], area: LayoutArea): Map<string, Box> {
  // Relations to a group that was not drawn (a dropped object) place nothing.
  const relations = allRelations.filter((r) => ids.includes(r.subject) && ids.includes(r.object));
  const columns = columnOrder(ids, relations);
  const rows = rowOf(ids, relations);
  const rowCount = Math.max(0, ...rows.values()) + 1;
  const columnWidth = area.width / Math.max(1, columns.length);
  const usable = area.height - area.top - area.height * 0.04;
  // A single row looks better as a band in the middle than as tall stretched cells.
  const rowHeight = rowCount === 1 ? Math.min(usable, columnWidth * 1.2) : usable / rowCount;
  const offset = area.top + (usable - rowHeight * rowCount) / 2;
  const cells = new Map<string, Box>();
  columns.forEach((id, column) => {
    if (id === null) return;
    const row = rows.get(id) ?? 0;
    cells.set(id, { x: column * columnWidth, y: offset + row * rowHeight, w: columnWidth, h: rowHeight });
  });
  return cells;
}

class Dag {
  private readonly edges = new Map<string, Set<string>>();

  /** Adds from → to unless it would close a cycle, i.e. contradict an edge already there. */
  add(from: string, to: string): void {
    if (from === to || this.reaches(to, from)) return;
    const targets = this.edges.get(from) ?? new Set<string>();
    targets.add(to);
    this.edges.set(from, targets);
  }

  reaches(from: string, to: string): boolean {
    const seen = new Set<string>();
    const stack = [from];
    while (stack.length) {
      const node = stack.pop()!;
      if (node === to) return true;
      if (seen.has(node)) continue;
      seen.add(node);
      stack.push(...(this.edges.get(node) ?? []));
    }
    return false;
  }

  targets(from: string): ReadonlySet<string> {
    return this.edges.get(from) ?? new Set();
  }
}

/** Left-to-right order of groups; null entries are empty columns that keep two groups apart. */
function columnOrder(ids: readonly string[], relations: readonly LayoutRelation[]): Array<string | null> {
  const dag = new Dag();
  for (const { subject, relation, object } of relations) {
    if (relation === "left of" || relation === "next to") dag.add(subject, object);
    if (relation === "right of") dag.add(object, subject);
  }
  const order = topologicalOrder(ids, dag);
  const respects = (candidate: string[]) =>
    candidate.every((from, i) => [...dag.targets(from)].every((to) => candidate.indexOf(to) > i));

  for (const { subject, relation, object } of relations) {
    if (relation !== "next to") continue;
    const at = order.indexOf(subject);
    if (Math.abs(order.indexOf(object) - at) === 1) continue;
    const moved = order.filter((id) => id !== object);
    moved.splice(moved.indexOf(subject) + 1, 0, object);
    if (respects(moved)) order.splice(0, order.length, ...moved);
  }

  const columns: Array<string | null> = [...order];
  for (const { subject, relation, object } of relations) {
    if (relation !== "apart") continue;
    const a = columns.indexOf(subject);
    const b = columns.indexOf(object);
    if (Math.abs(a - b) === 1) columns.splice(Math.max(a, b), 0, null);
  }
  return columns;
}

function topologicalOrder(ids: readonly string[], dag: Dag): string[] {
  const incoming = new Map(ids.map((id) => [id, 0]));
  for (const id of ids) for (const to of dag.targets(id)) incoming.set(to, (incoming.get(to) ?? 0) + 1);
  const order: string[] = [];
  const ready = () => ids.find((id) => !order.includes(id) && incoming.get(id) === 0);
  for (let next = ready(); next !== undefined; next = ready()) {
    order.push(next);
    for (const to of dag.targets(next)) incoming.set(to, incoming.get(to)! - 1);
  }
  return order;
}

/** Row of each group: the longest chain of "above" relations leading to it. */
function rowOf(ids: readonly string[], relations: readonly LayoutRelation[]): Map<string, number> {
  const dag = new Dag();
  for (const { subject, relation, object } of relations) {
    if (relation === "above") dag.add(subject, object);
    if (relation === "below") dag.add(object, subject);
  }
  const rows = new Map<string, number>();
  const depth = (id: string): number => {
    const known = rows.get(id);
    if (known !== undefined) return known;
    const parents = ids.filter((other) => dag.targets(other).has(id));
    const row = parents.length ? Math.max(...parents.map(depth)) + 1 : 0;
    rows.set(id, row);
    return row;
  };
  ids.forEach(depth);
  return rows;
}
