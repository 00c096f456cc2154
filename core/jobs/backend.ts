/**
 * The one place where the service's parts are chosen. A backend supplies admission (limits,
 * fairness), the model call slots and delivery; the service supplies storage (its JobStore) and
 * runs jobs over them. `createLocalBackend` keeps everything in this process, as a single
 * `gems serve` does; a distributed backend swaps in implementations shared by every process.
 */
import { createLocalAdmission, type Admission } from "./admission.ts";
import { EventDelivery, type Delivery, type DeliveryHost } from "./event-delivery.ts";
import type { JobLimits } from "./limits.ts";
import { createLocalModelSlots, type ModelSlots } from "./model-slots.ts";

export interface JobBackend {
  /** "local" or a distributed implementation's name, for logs and metrics. */
  kind: string;
  admission: Admission;
  slots: ModelSlots;
  createDelivery(host: DeliveryHost): Delivery;
  /** Releases what the backend holds (connections); the service calls it last in close(). */
  close(): Promise<void>;
}

export function createLocalBackend(limits: JobLimits): JobBackend {
  return {
    kind: "local",
    admission: createLocalAdmission(limits),
    slots: createLocalModelSlots(limits),
    createDelivery: (host) => new EventDelivery(host),
    close: async () => {},
  };
}
