/** The web studio surface; see README.md in this folder. */
export { createWebStudio, WEB_SURFACE, type WebStudio, type WebStudioDeps } from "./studio.ts";
export { webPerson } from "./person.ts";
