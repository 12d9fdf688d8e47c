// Charts with Apache ECharts (vendor/echarts.min.js, the copy the analytics report inlines), loaded the first time a
// page draws one, so the fleet never pays for it. A chart is a picture for those who look: every page puts its
// figures beside it as text or a table too. Tooltips render inside the canvas: the console's CSP forbids the inline
// styles of ECharts' HTML tooltips.
let loading = null;

function library() {
  if (!loading) {
    loading = new Promise((resolve, reject) => {
      const script = document.createElement("script");
      script.src = "vendor/echarts.min.js";
      script.onload = () => {
        window.addEventListener("resize", () => {
          for (const box of document.querySelectorAll(".chart")) window.echarts.getInstanceByDom(box)?.resize();
        });
        resolve(window.echarts);
      };
      script.onerror = () => {
        loading = null;
        reject(new Error("The chart library could not be loaded"));
      };
      document.head.append(script);
    });
  }
  return loading;
}

// The element a chart is drawn in: `label` is what a screen reader says of it.
export function chartBox(id, label, height = "18rem") {
  const box = document.createElement("div");
  box.id = id;
  box.className = "chart";
  box.setAttribute("role", "img");
  box.setAttribute("aria-label", label);
  box.style.height = height;
  return box;
}

const points = (option) => [option.series || []].flat().reduce((sum, series) => sum + ((series && series.data) || []).length, 0);

// Draws (or redraws) `option` in `box`; `data-points` tells how many data points it holds, for tests and for
// pages that say "no data" instead of an empty frame.
export async function draw(box, option) {
  const echarts = await library();
  const chart = echarts.getInstanceByDom(box) || echarts.init(box, null, { renderer: "canvas" });
  const tooltip = [option.tooltip || {}].flat().map((one) => ({ ...one, renderMode: "richText" }));
  chart.setOption({ animation: false, ...option, tooltip }, true);
  box.dataset.points = String(points(option));
  return chart;
}

// Frees the charts inside `root`: the router calls it before the next page replaces them.
export function disposeWithin(root) {
  if (!window.echarts) return;
  for (const box of root.querySelectorAll(".chart")) window.echarts.getInstanceByDom(box)?.dispose();
}

