/**
 * Places the sim's groups (all copies of one object, or a plaque of text) in a grid of cells:
 * one column per group, left to right by the horizontal relations, rows by the vertical ones.
 * Groups joined by "on", "behind" or "in front of" share one cell, stacked or overlapping inside
 * it. Relations are applied most salient first and one that would contradict an earlier one is
 * skipped, so the drawing, not the request, decides what the verifier later sees.
 */
import type { Position } from "./lexicon.ts";
import type { DrawnRelation } from "./salience.ts";
import type { Box } from "./rendered-scene.ts";

export interface LayoutRelation {
  subject: string;
  relation: DrawnRelation;
  object: string;
}

export interface LayoutPosition {
  id: string;
  position: Position;
}

export interface LayoutArea {
  width: number;
  height: number;
  /** Space kept free at the top, for the "SIM" marker. */
  top: number;
}

export interface Placement {
  cell: Box;
  /** Paint order inside a shared cell: 0 is painted first, so it is behind higher layers. */
  layer: number;
}

export interface Layout {
  cells: Map<string, Placement>;
  /** "on" relations drawn inside a shared cell; the painter makes each subject touch its object. */
  stacked: LayoutRelation[];
}

const SHARED: ReadonlySet<DrawnRelation> = new Set(["on", "behind", "in front of"]);

/** The cell of each group, keyed by id. `ids` is the order the groups were first named in. */
export function layoutCells(
  ids: readonly string[],
  allRelations: readonly LayoutRelation[],
  area: LayoutArea,
  allPositions: readonly LayoutPosition[] = [],
): Layout {
  // Relations to a group that was not drawn (a dropped object) place nothing.
  const relations = allRelations.filter((r) => ids.includes(r.subject) && ids.includes(r.object) && r.subject !== r.object);
  const clusterOf = clusters(ids, relations.filter((r) => SHARED.has(r.relation)));
  const reps = [...new Set(ids.map((id) => clusterOf.get(id)!))];
  const outer = relations.flatMap((r) => {
    const subject = clusterOf.get(r.subject)!;
    const object = clusterOf.get(r.object)!;
    return subject === object || SHARED.has(r.relation) ? [] : [{ ...r, subject, object }];
  });
  const positions = new Map<string, Position>();
  for (const { id, position } of allPositions) {
    const rep = clusterOf.get(id);
    if (rep !== undefined && !positions.has(rep)) positions.set(rep, position);
  }

  const columns = placeColumns(columnOrder(reps, outer), outer, positions, area.width);
  const { rows, rowCount } = placeRows(reps, outer, positions);
  const columnWidth = area.width / Math.max(1, columns.length);
  const usable = area.height - area.top - area.height * 0.04;
  // A single row looks better as a band in the middle than as tall stretched cells.
  const rowHeight = rowCount === 1 ? Math.min(usable, columnWidth * 1.2) : usable / rowCount;
  const offset = area.top + (usable - rowHeight * rowCount) / 2;
  const cells = new Map<string, Placement>();
  const stacked: LayoutRelation[] = [];
  columns.forEach((rep, column) => {
    if (rep === null) return;
    const row = rows.get(rep) ?? 0;
    const cell = { x: column * columnWidth, y: offset + row * rowHeight, w: columnWidth, h: rowHeight };
    const members = ids.filter((id) => clusterOf.get(id) === rep);
    const inside = relations.filter((r) => SHARED.has(r.relation) && members.includes(r.subject) && members.includes(r.object));
    for (const [id, placement] of shareCell(members, inside, cell)) cells.set(id, placement);
    stacked.push(...inside.filter((r) => r.relation === "on"));
  });
  return { cells, stacked };
}

/** Groups joined by shared-cell relations, each mapped to its first-named member. */
function clusters(ids: readonly string[], shared: readonly LayoutRelation[]): Map<string, string> {
  const parent = new Map(ids.map((id) => [id, id]));
  const find = (id: string): string => (parent.get(id) === id ? id : find(parent.get(id)!));
  for (const { subject, object } of shared) {
    const [a, b] = [find(subject), find(object)];
    if (a === b) continue;
    // The earlier-named group stays the representative, so the layout follows the prompt's order.
    if (ids.indexOf(a) < ids.indexOf(b)) parent.set(b, a);
    else parent.set(a, b);
  }
  return new Map(ids.map((id) => [id, find(id)]));
}

/**
 * Inside one cell: "on" stacks a group above its base (levels top to bottom), "behind" and "in
 * front of" overlap two groups diagonally, the one behind up and to the left and painted first.
 */
function shareCell(members: readonly string[], inside: readonly LayoutRelation[], cell: Box): Map<string, Placement> {
  const level = new Map(members.map((id) => [id, 0]));
  const depthEdges = inside.flatMap((r) => (r.relation === "behind" ? [[r.subject, r.object] as const] : r.relation === "in front of" ? [[r.object, r.subject] as const] : []));
  // A few passes settle chains; a contradictory request (a cycle) simply stops changing the answer.
  for (let pass = 0; pass < members.length + 1; pass++) {
    for (const r of inside) {
      if (r.relation === "on") level.set(r.object, Math.max(level.get(r.object)!, level.get(r.subject)! + 1));
    }
    for (const [back, front] of depthEdges) {
      const same = Math.max(level.get(back)!, level.get(front)!);
      level.set(back, same);
      level.set(front, same);
    }
  }
  // Every group in a behind/in-front chain gets its own depth, so any two of them overlap.
  const dag = new Dag();
  for (const [back, front] of depthEdges) dag.add(back, front);
  const layered = topologicalOrder(
    members.filter((id) => depthEdges.some((edge) => edge.includes(id))),
    dag,
  );
  const depth = new Map(members.map((id) => [id, Math.max(0, layered.indexOf(id))]));
  const levels = Math.max(...level.values()) + 1;
  const depths = Math.max(...depth.values()) + 1;
  const levelHeight = cell.h / levels;
  const placements = new Map<string, Placement>();
  for (let l = 0; l < levels; l++) {
    for (let d = 0; d < depths; d++) {
      const here = members.filter((id) => level.get(id) === l && depth.get(id) === d);
      if (here.length === 0) continue;
      const shift = depths > 1 ? d / (depths - 1) : 0;
      const h = depths > 1 ? levelHeight * 0.85 : levelHeight;
      // Overlapping groups are offset by about a third of their width, wherever the cell's shape.
      const w = depths > 1 ? Math.min(cell.w * 0.7, h * 1.3) : cell.w;
      const span = depths > 1 ? w * 1.35 : cell.w;
      const x = cell.x + (cell.w - span) / 2 + shift * (span - w);
      const y = cell.y + l * levelHeight + shift * (levelHeight - h);
      here.forEach((id, i) => placements.set(id, { cell: { x: x + (i * w) / here.length, y, w: w / here.length, h }, layer: d }));
    }
  }
  return placements;
}

/**
 * "on the left" moves a group to the first column, "on the right" to the last, when no relation
 * forbids it; empty columns then pull it out of the middle.
 */
function placeColumns(order: string[], relations: readonly LayoutRelation[], positions: ReadonlyMap<string, Position>, width: number): Array<string | null> {
  const dag = horizontalDag(relations);
  const respects = (candidate: ReadonlyArray<string | null>) =>
    candidate.every((from, i) => from === null || [...dag.targets(from)].every((to) => candidate.indexOf(to) > i));
  let columns: Array<string | null> = [...order];
  for (const [id, position] of positions) {
    if (position !== "left" && position !== "right") continue;
    const without = columns.filter((c) => c !== id);
    const moved = position === "left" ? [id, ...without] : [...without, id];
    if (respects(moved)) columns = moved;
  }
  for (const { subject, relation, object } of relations) {
    if (relation !== "apart") continue;
    const a = columns.indexOf(subject);
    const b = columns.indexOf(object);
    if (Math.abs(a - b) === 1) columns.splice(Math.max(a, b), 0, null);
  }
  const centre = (id: string) => ((columns.indexOf(id) + 0.5) / columns.length) * width;
  for (const [id, position] of positions) {
    for (let pad = 0; pad < 4; pad++) {
      if (position === "left" && centre(id) >= 0.4 * width) columns.push(null);
      else if (position === "right" && centre(id) <= 0.6 * width) columns.unshift(null);
      else break;
    }
  }
  return columns;
}

/**
 * Rows from "above" chains. "At the bottom" moves a group below the rest when nothing must be
 * under it; "at the top" adds an empty row below a single row so the top is not the middle.
 */
function placeRows(ids: readonly string[], relations: readonly LayoutRelation[], positions: ReadonlyMap<string, Position>) {
  const rows = rowOf(ids, relations);
  const dag = verticalDag(relations);
  const isFree = (id: string) => dag.targets(id).size === 0 && !ids.some((other) => dag.targets(other).has(id));
  // "Next to" means on the same level: a group with no vertical relation joins its neighbour's row.
  for (const { subject, relation, object } of relations) {
    if (relation !== "next to") continue;
    if (isFree(subject)) rows.set(subject, rows.get(object)!);
    else if (isFree(object)) rows.set(object, rows.get(subject)!);
  }
  const last = Math.max(0, ...rows.values());
  for (const [id, position] of positions) {
    if (position === "bottom" && dag.targets(id).size === 0) rows.set(id, Math.max(1, last));
  }
  const used = Math.max(0, ...rows.values()) + 1;
  const wantsTop = [...positions.values()].includes("top");
  return { rows, rowCount: used === 1 && wantsTop ? 2 : used };
}

function horizontalDag(relations: readonly LayoutRelation[]): Dag {
  const dag = new Dag();
  for (const { subject, relation, object } of relations) {
    if (relation === "left of" || relation === "next to") dag.add(subject, object);
    if (relation === "right of") dag.add(object, subject);
  }
  return dag;
}

function verticalDag(relations: readonly LayoutRelation[]): Dag {
  const dag = new Dag();
  for (const { subject, relation, object } of relations) {
    if (relation === "above") dag.add(subject, object);
    if (relation === "below") dag.add(object, subject);
  }
  return dag;
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

/** Left-to-right order of groups. */
function columnOrder(ids: readonly string[], relations: readonly LayoutRelation[]): string[] {
  const dag = horizontalDag(relations);
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

  return order;
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
  const dag = verticalDag(relations);
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
