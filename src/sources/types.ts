/** An object as a source lists it. */
export interface SourceObject {
  key: string;
  size: number;
  /** Without the surrounding quotes. */
  etag: string;
  lastModified: string;
  storageClass?: string | undefined;
  /** True when an archived object has a finished restore (a readable copy). */
  restored?: boolean | undefined;
  /** Base64 SHA-256 when the store keeps one. */
  sha256?: string | undefined;
}

export interface SourceSpec {
  bucket: string;
  prefix: string;
}

export interface ListOptions {
  prefix: string;
}

/** Lists a source page by page; never the whole bucket in one array. */
export interface SourceLister {
  list(options: ListOptions, signal?: AbortSignal): AsyncIterable<SourceObject>;
}

/** Signs a short-lived GET URL for one object. The URL lives only in memory. */
export interface UrlSigner {
  presignGet(key: string, expiresInSeconds: number): Promise<string>;
}
