export const API_PREFIX = '/v1.3';

export const ROUTE_IDS = [
  'GET /indexes/{index_id}',
  'GET /indexes/{index_id}/videos',
  'GET /indexes/{index_id}/videos/{video_id}',
  'PATCH /indexes/{index_id}/videos/{video_id}',
  'DELETE /indexes/{index_id}/videos/{video_id}',
  'POST /tasks',
  'GET /tasks',
  'GET /tasks/{task_id}',
  'DELETE /tasks/{task_id}',
  'POST /assets/multipart-uploads',
  'GET /assets/multipart-uploads',
  'GET /assets/multipart-uploads/{upload_id}',
  'POST /assets/multipart-uploads/{upload_id}',
  'POST /assets/multipart-uploads/{upload_id}/presigned-urls',
  'POST /assets',
  'GET /assets',
  'GET /assets/{asset_id}',
  'DELETE /assets/{asset_id}',
  'GET /assets/{asset_id}/indexed-assets',
  'POST /indexes/{index_id}/indexed-assets',
  'GET /indexes/{index_id}/indexed-assets',
  'GET /indexes/{index_id}/indexed-assets/{indexed_asset_id}',
  'PATCH /indexes/{index_id}/indexed-assets/{indexed_asset_id}',
  'DELETE /indexes/{index_id}/indexed-assets/{indexed_asset_id}',
] as const;

/** A route of the simulated API, named like the API reference names its endpoints. */
export type RouteId = (typeof ROUTE_IDS)[number];

/** The routes that create something: `postAcceptThenFail` can lose their answers. */
/** The two multipart POSTs that change state are here too: a session (create) and a batch report can be lost after the work. */
export const CREATE_ROUTES = [
  'POST /tasks', 'POST /assets', 'POST /indexes/{index_id}/indexed-assets', 'POST /assets/multipart-uploads', 'POST /assets/multipart-uploads/{upload_id}',
] as const satisfies readonly RouteId[];

/** Path prefix of the presigned chunk URLs the simulator serves itself (outside the API, no x-api-key). */
export const CHUNK_PATH = '/multipart-chunks/';
export type CreateRouteId = (typeof CREATE_ROUTES)[number];

export function isCreateRoute(route: RouteId): route is CreateRouteId {
  return (CREATE_ROUTES as readonly RouteId[]).includes(route);
}

export interface RouteMatch {
  route: RouteId;
  params: Record<string, string>;
}

const compiled = ROUTE_IDS.map((route) => {
  const [method, template] = route.split(' ') as [string, string];
  const names: string[] = [];
  const source = template.replace(/\{(\w+)\}/g, (_all, name: string) => {
    names.push(name);
    return '([^/]+)';
  });
  return { route, method, names, pattern: new RegExp(`^${source}/?$`) };
});

/** Matches a request to a route; `pathname` includes the `/v1.3` prefix. */
export function matchRoute(method: string, pathname: string): RouteMatch | undefined {
  if (!pathname.startsWith(`${API_PREFIX}/`)) return undefined;
  const rest = pathname.slice(API_PREFIX.length);
  for (const candidate of compiled) {
    if (candidate.method !== method) continue;
    const found = candidate.pattern.exec(rest);
    if (!found) continue;
    const params: Record<string, string> = {};
    candidate.names.forEach((name, i) => {
      params[name] = safeDecode(found[i + 1] ?? '');
    });
    return { route: candidate.route, params };
  }
  return undefined;
}

function safeDecode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}
