// Map shapes come from the build (Apache ECharts 4.9's map data, Apache-2.0, installed as the npm
// alias echarts-maps-v4): the country by province, and each province by city, loaded when drilled into.
import { registerMap } from 'echarts/core'

const provinces = import.meta.glob('../node_modules/echarts-maps-v4/map/json/province/*.json', { import: 'default' })

// A province's adcode prefix -> its shape file.
const FILES: Record<string, string> = {
  '11': 'beijing', '12': 'tianjin', '13': 'hebei', '14': 'shanxi', '15': 'neimenggu', '21': 'liaoning', '22': 'jilin',
  '23': 'heilongjiang', '31': 'shanghai', '32': 'jiangsu', '33': 'zhejiang', '34': 'anhui', '35': 'fujian', '36': 'jiangxi',
  '37': 'shandong', '41': 'henan', '42': 'hubei', '43': 'hunan', '44': 'guangdong', '45': 'guangxi', '46': 'hainan',
  '50': 'chongqing', '51': 'sichuan', '52': 'guizhou', '53': 'yunnan', '54': 'xizang', '61': 'shanxi1', '62': 'gansu',
  '63': 'qinghai', '64': 'ningxia', '65': 'xinjiang', '71': 'taiwan', '81': 'xianggang', '82': 'aomen',
}

type Shape = { features: { id?: string | number; properties: { id?: string; name: string; adcode?: string } }[] }

/** Each feature's 6-digit adcode as its `adcode` property: series name their regions by it (nameProperty). */
function byAdcode(shape: Shape): Shape {
  for (const feature of shape.features) feature.properties.adcode = String(feature.id ?? feature.properties.id ?? '')
  return shape
}

let country: Promise<void> | undefined

/** Register the country's map ("china"), once. */
export function loadCountry(): Promise<void> {
  country ??= import('../node_modules/echarts-maps-v4/map/json/china.json').then((shape) => registerMap('china', byAdcode(shape.default as Shape) as never))
  return country
}

/** Register a province's map by city (named by the province's 2-digit code); false when there is none. */
export async function loadProvince(prefix: string): Promise<boolean> {
  const loader = provinces[`../node_modules/echarts-maps-v4/map/json/province/${FILES[prefix]}.json`]
  if (!loader) return false
  registerMap(prefix, byAdcode((await loader()) as Shape) as never)
  return true
}
