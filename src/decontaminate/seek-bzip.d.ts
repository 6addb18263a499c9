declare module 'seek-bzip' {
  /** Decodes a whole bzip2 buffer. */
  const Bunzip: { decode(input: Uint8Array, output?: Uint8Array): Buffer };
  export default Bunzip;
}
