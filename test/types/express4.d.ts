// Express 4 is installed under the alias "express4" to test both majors; it has Express's API.
declare module "express4" {
  import express from "express";
  export default express;
}
