/** Segment math lives in src/shared (the browser's composer uses it too). */
export { analyzeSegments, type Encoding, type SegmentInfo } from "../shared/segments";
