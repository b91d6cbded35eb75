// The text on the page whose contrast is below WCAG 2.1 AA: 4.5:1 for body text, 3:1 for
// large text (24 px, or 18.66 px bold). Run by tests/e2e/test_shopper_pages.py in the page.
() => {
    const channel = c => { c /= 255; return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4; };
    const rgba = text => text.match(/[\d.]+/g).map(Number);
    const luminance = ([r, g, b]) => 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b);
    const over = ([r, g, b, a = 1], [R, G, B]) => [r * a + R * (1 - a), g * a + G * (1 - a), b * a + B * (1 - a)];
    function background(el) {
        const layers = [];
        for (let node = el; node; node = node.parentElement) {
            const color = rgba(getComputedStyle(node).backgroundColor);
            if ((color[3] ?? 1) > 0) layers.push(color);
            if ((color[3] ?? 1) === 1) break;
        }
        return layers.reverse().reduce((under, layer) => over(layer, under), [255, 255, 255]);
    }
    const failures = [];
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    while (walker.nextNode()) {
        const el = walker.currentNode.parentElement;
        if (!walker.currentNode.textContent.trim() || !el.checkVisibility()) continue;
        const style = getComputedStyle(el);
        // Disabled controls are exempt from contrast requirements (WCAG 1.4.3).
        if (el.closest(":disabled")) continue;
        const fg = over(rgba(style.color), background(el));
        const [l1, l2] = [luminance(fg), luminance(background(el))].sort((a, b) => b - a);
        const ratio = (l1 + 0.05) / (l2 + 0.05);
        const size = parseFloat(style.fontSize), bold = Number(style.fontWeight) >= 700;
        const needed = size >= 24 || (bold && size >= 18.66) ? 3 : 4.5;
        if (ratio < needed) failures.push(`${el.tagName}.${el.className} "${el.textContent.trim().slice(0, 30)}" ${ratio.toFixed(2)}:1`);
    }
    return failures;
}
