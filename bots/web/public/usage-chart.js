// The usage page's chart as data: one bar per UTC day of the period (days without jobs are 0),
// scaled to the tallest. Pure, so it is tested without a browser; usage.js draws it as SVG.
export function usageBars(byDay, days, now = new Date(), metric = "cost") {
  const values = new Map(byDay.map((d) => [d.day, metric === "cost" ? (d.cost ?? 0) : d.images]));
  const end = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate());
  const bars = [];
  for (let i = days - 1; i >= 0; i--) {
    const day = new Date(end - i * 86_400_000).toISOString().slice(0, 10);
    bars.push({ day, value: values.get(day) ?? 0 });
  }
  const max = Math.max(0, ...bars.map((b) => b.value));
  return bars.map((b) => ({ ...b, share: max > 0 ? b.value / max : 0 }));
}

/** "$0.0420", "1.50 EUR": as the chat surfaces show money. */
export function money(amount, currency) {
  const text = amount.toFixed(amount !== 0 && Math.abs(amount) < 1 ? 4 : 2);
  return currency === "USD" || currency === "$" ? `$${text}` : `${text} ${currency}`;
}
