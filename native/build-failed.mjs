// Run by `npm install` when `node-gyp rebuild` of the native kernels fails: says so in one line and
// exits 0, so that installing gymrl never fails for want of OpenBLAS or a compiler. At run time
// gymrl then uses the TypeScript kernels (src/tensor/index.ts prints its own one-line notice).
import process from "node:process";

process.stderr.write(
  "gymrl: native kernels were not built (see the node-gyp errors above); gymrl will use the slower " +
    "TypeScript kernels. To enable them: apt-get install -y libopenblas-dev python3 make g++, then npm run build:native\n",
);
