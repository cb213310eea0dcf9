/** The local listeners every store keeps for CircuitStore.onTransition and onConfigChange. */
import type { CircuitEvent, ConfigChangeRecord } from "./store.js";

/** A set of listeners: `on` adds one and answers its unsubscribe function; `emit` calls each in order. */
export interface Listeners<T> {
  on(listener: (value: T) => void): () => void;
  emit(value: T): void;
}

export function createListeners<T>(): Listeners<T> {
  const listeners = new Set<(value: T) => void>();
  return {
    on(listener) {
      listeners.add(listener);
      return () => void listeners.delete(listener);
    },
    emit(value) {
      for (const l of listeners) l(value);
    },
  };
}

/** A store's transition and config-change listeners. */
export interface StoreListeners {
  transitions: Listeners<CircuitEvent>;
  configChanges: Listeners<ConfigChangeRecord>;
}

export function createStoreListeners(): StoreListeners {
  return { transitions: createListeners(), configChanges: createListeners() };
}
