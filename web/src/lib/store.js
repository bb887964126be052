// A tiny observable store and its Preact hook.
import { useEffect, useState } from 'preact/hooks';

export function createStore(initial) {
  let state = initial;
  const subscribers = new Set();
  return {
    get: () => state,
    /** Merges an object into the state, or replaces it with fn(state). */
    set(patch) {
      state = typeof patch === 'function' ? patch(state) : { ...state, ...patch };
      subscribers.forEach((fn) => fn(state));
    },
    subscribe(fn) {
      subscribers.add(fn);
      return () => subscribers.delete(fn);
    },
  };
}

export function useStore(store) {
  const [state, setState] = useState(store.get());
  useEffect(() => {
    setState(store.get());
    return store.subscribe(setState);
  }, [store]);
  return state;
}
