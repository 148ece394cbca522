/** uPlot's built files as text, for the tests' program (the worker's gets these from wrangler types: src/config/wrangler-env.d.ts). */
declare module "uplot/dist/uPlot.iife.min.js" {
  const text: string;
  export default text;
}
declare module "uplot/dist/uPlot.min.css" {
  const text: string;
  export default text;
}
