// The platform's ceiling for the bench: a worker that only forwards the request
// to the provider, with none of the router's work. Served by workerd like the router.
export default {
  async fetch(request, env) {
    const upstream = await fetch(`${env.UPSTREAM}/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: await request.text(),
    });
    return new Response(upstream.body, { status: upstream.status, headers: { "content-type": "application/json" } });
  },
};
