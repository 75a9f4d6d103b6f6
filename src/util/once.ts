/** `fn` wrapped so that only its first call runs it; later calls return at once. */
export function once(fn: () => void): () => void {
  let done = false;
  return () => {
    if (done) return;
    done = true;
    fn();
  };
}
